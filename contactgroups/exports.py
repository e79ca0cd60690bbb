"""Conversation groups as rows of ``EXPORTED_COLUMNS``: what ``export_contact_groups`` and the admin's export write.

One row per conversation (a group without any has one row with empty conversation columns), read a chunk of
groups at a time with one query for their conversations, so memory holds one chunk whatever the number of groups.
The rows hold values; the writers (``spreadsheet.SafeWriter``, ``SafeXlsxWriter``) make them cells.
"""

from collections.abc import Callable, Iterable, Iterator

from django.db.models import Sum
from django.db.models.functions import Greatest

from contactgroups import rows, words
from contactgroups.imports.groups import EXPORTED_COLUMNS
from contactgroups.models import ContactItem
from contactgroups.spreadsheet import SafeWriter, SafeXlsxWriter

# Groups read at a time; their conversations are read with one query per chunk.
GROUP_CHUNK = 500
# A streamed CSV is sent in pieces of about this many characters.
CSV_PIECE = 64 * 1024
# The header of a streamed CSV file: a byte-order mark, so that a spreadsheet opens the file as UTF-8 (Chinese
# names shown as such); the import reads past it.
CSV_BOM = "\ufeff"
# An XLSX sheet holds at most 1,048,576 rows (the spreadsheet's own limit), one of them the header.
XLSX_ROWS_MAX = 1_048_576 - 1


def exported_rows(groups, on_chunk: Callable[[int], None] | None = None) -> Iterator[list]:
    """The rows of ``groups`` (a queryset), in the order of ``EXPORTED_COLUMNS``, groups in ascending pk order.

    ``on_chunk(count)`` is called after the rows of each chunk of ``count`` groups.
    """
    chunk = []
    fields = ["owner__user_id", "name", "sync__chat_group_id", "state"]
    for group in rows.stream_rows(groups, fields, chunk=GROUP_CHUNK):
        chunk.append(group)
        if len(chunk) == GROUP_CHUNK:
            yield from _chunk_rows(chunk)
            if on_chunk:
                on_chunk(len(chunk))
            chunk = []
    if chunk:
        yield from _chunk_rows(chunk)
        if on_chunk:
            on_chunk(len(chunk))


def exported_row_count(groups) -> int:
    """How many rows ``exported_rows(groups)`` yields: one a conversation, one for a group without any."""
    return groups.aggregate(rows=Sum(Greatest("conversation_count", 1)))["rows"] or 0


def _chunk_rows(groups: list[tuple]) -> Iterator[list]:
    items: dict[int, list[tuple]] = {}
    conversations = (
        ContactItem.objects.filter(group_id__in=[group[0] for group in groups])
        .order_by("group_id", "pk")
        .values_list("group_id", "type", "to_account", "to_group_id", "result_code", "result_info")
    )
    for group_id, kind, to_account, to_group_id, code, info in conversations:
        target = ContactItem.conversation_of(kind, to_account, to_group_id).target
        items.setdefault(group_id, []).append((kind, target, code, info))
    for pk, owner, name, chat_group_id, state in groups:
        group = [owner, name, "" if chat_group_id is None else chat_group_id, state]
        for kind, target, code, info in items.get(pk) or [("", "", None, "")]:
            # A code Chat sent past what the column holds is written as the admin shows it ("?"), never as the
            # placeholder stored for it; the audit keeps the number Chat sent.
            yield group + [kind, target, "" if code is None else words.code_number(code), info]


class _Line:
    """A pseudo-buffer: ``write`` returns what it is given, so a CSV writer hands back each line."""

    def write(self, text):
        return text


def csv_text(rows: Iterable[list], header: Iterable[str] = EXPORTED_COLUMNS) -> Iterator[str]:
    """A CSV file of ``rows`` under ``header``, byte-order mark first, in pieces of about ``CSV_PIECE`` characters:
    the one writer of every CSV file imadmin makes, so the command's file and the admin's download are the same."""
    writer = SafeWriter(_Line())
    piece = [CSV_BOM, writer.writerow(header)]
    size = 0
    for row in rows:
        line = writer.writerow(row)
        piece.append(line)
        size += len(line)
        if size >= CSV_PIECE:
            yield "".join(piece)
            piece, size = [], 0
    if piece:
        yield "".join(piece)


def csv_pieces(rows: Iterable[list], header: Iterable[str] = EXPORTED_COLUMNS) -> Iterator[bytes]:
    """``csv_text`` in UTF-8, to stream."""
    for piece in csv_text(rows, header):
        yield piece.encode("utf-8")


def write_xlsx(rows: Iterable[list], stream, header: Iterable[str] = EXPORTED_COLUMNS, title: str = "") -> None:
    """An XLSX workbook of ``rows`` under ``header`` written to ``stream`` (a seekable binary file)."""
    writer = SafeXlsxWriter(stream, title)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
    writer.close()
