"""CSV cells a spreadsheet will not run as formulas: the rule every export applies and every import undoes.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written with a ``'`` in front
(OWASP's rule against CSV injection), so a group name such as ``=HYPERLINK(...)``, set by an end user in the app
and adopted by a pull, is shown as text. A cell that already starts with quotes and then one of those characters
gets one more quote, so the import can always take exactly one off: what an export writes, an import reads back
as it was.
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

    def writerow(self, row) -> None:
        self._writer.writerow([neutralise(value) for value in row])
