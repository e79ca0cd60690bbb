"""Reading an uploaded CSV file: its size and row caps, its columns, and why a row or the file is refused."""

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from django.utils.translation import gettext as _

from contactgroups.chat import protocol
from contactgroups.spreadsheet import restore

# What one CSV import accepts at most: imadmin's own caps, not Chat's, so a mistaken file fails fast and clearly.
CSV_MAX_BYTES = 20 * 1024 * 1024
CSV_MAX_ROWS = 100_000


class CsvError(Exception):
    """The file as a whole cannot be imported (encoding, columns, size); nothing was changed."""


@dataclass(frozen=True)
class RowProblem:
    """Why a row was refused: its row number in the file (the header is row 1), the column and a message."""

    row: int
    column: str
    message: str
    reason: str = ""  # the kind of problem (a key of imports.groups.REASONS), for grouping refusals

    def line(self) -> str:
        if self.column:
            return _("Row %(row)d, %(column)s: %(message)s") % {"row": self.row, "column": self.column,
                                                                "message": self.message}
        return _("Row %(row)d: %(message)s") % {"row": self.row, "message": self.message}


def read_csv(data, columns: list[str], optional: list[str] = (), source: str = "the file") -> Iterator[
        tuple[int, dict[str, str]]]:
    """Check ``data`` (bytes or a binary file) and yield ``(row number, {column: value})`` for each record.

    The first row names the columns: every one of ``columns``, any of ``optional``, nothing else, in any
    order. The text must be UTF-8 (a byte-order mark is allowed). Raises CsvError for a file that is too big,
    not UTF-8, not CSV or has the wrong columns; the whole file is checked before the first row is yielded, so
    a caller that acts on rows never acts on part of a bad file. Blank lines are skipped. Each cell is read
    back as an export wrote it (``spreadsheet.restore``). A row with the wrong number of cells has its problem
    under the key ``""``, beside the cells it has.
    """
    raw = data if isinstance(data, bytes) else data.read(CSV_MAX_BYTES + 1)
    if len(raw) > CSV_MAX_BYTES:
        raise CsvError(_("%(source)s is larger than %(mb)d MB; split it into smaller files.")
                       % {"source": source, "mb": CSV_MAX_BYTES // (1024 * 1024)})
    try:
        text = codecs.decode(raw, "utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CsvError(
            _("%(source)s is not UTF-8 text: byte %(byte)s on line %(line)d cannot be read. Save it as CSV UTF-8.")
            % {"source": source, "byte": f"0x{raw[exc.start]:02x}", "line": line}
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records = []
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise CsvError(_("%(source)s is empty; its first row must name the columns: %(columns)s.")
                           % {"source": source, "columns": ", ".join(columns)})
        names = [cell.strip().lower() for cell in header]
        expected = ", ".join(columns + [_("%(name)s (optional)") % {"name": name} for name in optional])
        unknown = [name for name in names if name not in columns and name not in optional]
        missing = [name for name in columns if name not in names]
        repeated = protocol.find_duplicates(names)
        if unknown or missing or repeated:
            problems = []
            if missing:
                problems.append(_("missing %(names)s") % {"names": ", ".join(missing)})
            if unknown:
                problems.append(_("unknown %(names)s") % {"names": ", ".join(unknown)})
            if repeated:
                problems.append(_("named twice: %(names)s") % {"names": ", ".join(repeated)})
            raise CsvError(
                _("The first row of %(source)s must name the columns %(expected)s; found %(found)s (%(problems)s).")
                % {"source": source, "expected": expected, "found": ", ".join(names) or _("none"),
                   "problems": "; ".join(problems)}
            )
        for cells in reader:
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            if len(records) >= CSV_MAX_ROWS:
                raise CsvError(_("%(source)s has more than %(rows)s rows; split it into smaller files.")
                               % {"source": source, "rows": f"{CSV_MAX_ROWS:,}"})
            records.append((reader.line_num, cells))
    except csv.Error as exc:
        raise CsvError(_("%(source)s is not a valid CSV file: line %(line)d: %(error)s.")
                       % {"source": source, "line": reader.line_num, "error": exc}) from None
    for row, cells in records:
        values = dict(zip(names, (restore(cell) for cell in cells), strict=False))
        if len(cells) != len(names):
            # The cells it has are kept, so the row still counts against the group it names.
            values[""] = _("This row has %(cells)d columns; the first row names %(names)d.") % {
                "cells": len(cells), "names": len(names)}
        yield row, values
