"""Reading an uploaded CSV file: its size and row caps, its columns, and why a row or the file is refused."""

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from contactgroups import words
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
        return words.row_line(self.row, self.column, self.message)


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
        raise CsvError(words.file_too_large_text(source, CSV_MAX_BYTES // (1024 * 1024)))
    try:
        text = codecs.decode(raw, "utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CsvError(words.not_utf8_text(source, raw[exc.start], line)) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records = []
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise CsvError(words.no_header_text(source, columns))
        names = [cell.strip().lower() for cell in header]
        unknown = [name for name in names if name not in columns and name not in optional]
        missing = [name for name in columns if name not in names]
        repeated = protocol.find_duplicates(names)
        if unknown or missing or repeated:
            raise CsvError(words.wrong_header_text(source, list(columns), list(optional), names, missing, unknown,
                                                   repeated))
        for cells in reader:
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            if len(records) >= CSV_MAX_ROWS:
                raise CsvError(words.too_many_rows_text(source, CSV_MAX_ROWS))
            records.append((reader.line_num, cells))
    except csv.Error as exc:
        raise CsvError(words.not_csv_text(source, reader.line_num, exc)) from None
    for row, cells in records:
        values = dict(zip(names, (restore(cell) for cell in cells), strict=False))
        if len(cells) != len(names):
            # The cells it has are kept, so the row still counts against the group it names.
            values[""] = words.cell_count_text(len(cells), len(names))
        yield row, values
