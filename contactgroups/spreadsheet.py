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


# Characters XML 1.0, so an XLSX sheet, cannot hold; each is written as U+FFFD.
XLSX_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
XLSX_REPLACEMENT = "\ufffd"


class SafeXlsxWriter:
    """One XLSX sheet written into ``stream`` (a path or a seekable binary file) row by row, by XlsxWriter in its
    constant-memory mode, each cell ``neutralise``d and written as a string.

    Constant-memory mode keeps one row in memory: each goes to a temporary file as the next begins, with inline
    strings (no shared-string table), and ``close`` zips the workbook into ``stream``.
    """

    def __init__(self, stream, title: str = ""):
        import xlsxwriter  # only a download of XLSX pays for loading it

        # Every cell is written with write_string, so none is read as a formula, a number or a link.
        self._workbook = xlsxwriter.Workbook(stream, {"constant_memory": True})
        self._sheet = self._workbook.add_worksheet(title or None)
        self._row = 0

    def writerow(self, row) -> None:
        for column, value in enumerate(row):
            self._sheet.write_string(self._row, column, XLSX_ILLEGAL.sub(XLSX_REPLACEMENT, neutralise(value)))
        self._row += 1

    def close(self) -> None:
        """Finish the workbook in ``stream``; the writer is spent afterwards."""
        self._workbook.close()
