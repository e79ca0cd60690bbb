"""Cells a spreadsheet will not run as formulas: the rule every export applies and every import undoes.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written with a ``'`` in front
(OWASP's rule against CSV injection), so a group name such as ``=HYPERLINK(...)``, set by an end user in the app
and adopted by a pull, is shown as text. A cell that already starts with quotes and then one of those characters
gets one more quote, so the import can always take exactly one off: what an export writes, an import reads back
as it was.

The XLSX writer applies the same rule and writes every cell as a string (never a formula, a number or an error
value), so its cells are the CSV's cells.
"""

import csv
import re

FORMULA_STARTS = "=+-@\t\r"
ESCAPE = "'"
_ESCAPED = re.compile(f"{ESCAPE}*[{re.escape(FORMULA_STARTS)}]")


def neutralise(value) -> str:
    """``value`` as the text of a CSV cell that no spreadsheet runs as a formula (None is an empty cell)."""
    text = "" if value is None else str(value)
    return ESCAPE + text if _ESCAPED.match(text) else text


def restore(cell: str) -> str:
    """The value ``neutralise`` was given: the cell without the one quote an export put in front."""
    return cell[1:] if cell.startswith(ESCAPE) and _ESCAPED.match(cell, 1) else cell


class SafeWriter:
    """``csv.writer`` whose every cell goes through ``neutralise``.

    Lines end in CRLF (RFC 4180, the csv module's default): the writer then quotes a cell holding either a carriage
    return or a line feed, so neither splits a row when the file is read back.
    """

    def __init__(self, stream, **options):
        self._writer = csv.writer(stream, **options)

    def writerow(self, row):
        """Write the row; returns what the stream's ``write`` returned (the line, for a pseudo-buffer)."""
        return self._writer.writerow([neutralise(value) for value in row])


# Characters XML 1.0, so an XLSX sheet, cannot hold (openpyxl refuses them); each is written as U+FFFD.
XLSX_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
XLSX_REPLACEMENT = "\ufffd"


class SafeXlsxWriter:
    """One XLSX sheet written row by row in openpyxl's write-only mode, each cell ``neutralise``d and a string.

    Write-only mode keeps no row in memory: openpyxl writes each to a temporary file, with inline strings (no
    shared-string table), and ``save`` zips it into ``stream``.
    """

    def __init__(self, title: str = ""):
        from openpyxl import Workbook  # only a download of XLSX pays for loading it

        self._workbook = Workbook(write_only=True)
        self._sheet = self._workbook.create_sheet(title or None)

    def writerow(self, row) -> None:
        from openpyxl.cell import WriteOnlyCell

        cells = []
        for value in row:
            cell = WriteOnlyCell(self._sheet, XLSX_ILLEGAL.sub(XLSX_REPLACEMENT, neutralise(value)))
            cell.data_type = "s"  # openpyxl would make "=…" a formula and "#N/A" an error value
            cells.append(cell)
        self._sheet.append(cells)

    def save(self, stream) -> None:
        """Write the workbook to ``stream`` (a path or a binary file); the writer is spent afterwards."""
        self._workbook.save(stream)
