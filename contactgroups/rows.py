"""Rows read for a run over many of them: streamed by keyset, never a whole table at once; and the groups a bulk
sync picks."""

from collections.abc import Iterable, Iterator

from contactgroups.models import ContactGroup

# The states ``sync_contact_groups`` picks. Pending: waiting for a first or another sync, or for deletion.
PENDING_STATES = (ContactGroup.State.DRAFT, ContactGroup.State.QUEUED, ContactGroup.State.DELETING)
FAILED_STATES = (ContactGroup.State.FAILED,)
# Where a sync that went well leaves a group.
DONE_STATES = (ContactGroup.State.SYNCED, ContactGroup.State.DELETED)
# Ids are read this many at a time (keyset pagination), so a run never holds every row.
ID_CHUNK = 1000


def stream_rows(queryset, fields: Iterable[str] = (), chunk: int = ID_CHUNK) -> Iterator[tuple]:
    """``(pk, *fields)`` of each row of ``queryset`` in ascending pk order, read ``chunk`` rows at a time.

    Keyset pagination: each chunk is a complete query, so no cursor stays open while other threads write
    (SQLite's writers would wait on it), memory holds one chunk, and a row whose state changes meanwhile is
    never read twice.
    """
    last = None
    while True:
        page = queryset.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        rows = list(page.values_list("pk", *fields)[:chunk])
        yield from rows
        if len(rows) < chunk:
            return
        last = rows[-1][0]


def stream_ids(queryset, chunk: int = ID_CHUNK) -> Iterator[int]:
    """The primary keys of ``queryset``, ascending, read ``chunk`` at a time (see ``stream_rows``)."""
    for row in stream_rows(queryset, chunk=chunk):
        yield row[0]


def groups_to_sync(selection: str, owners: Iterable[str] = ()):
    """The groups ``sync_contact_groups`` syncs: ``pending``, ``failed`` or ``all`` (never deleted ones)."""
    groups = ContactGroup.objects.live()
    if selection == "pending":
        groups = groups.filter(state__in=PENDING_STATES)
    elif selection == "failed":
        groups = groups.filter(state__in=FAILED_STATES)
    elif selection != "all":
        raise ValueError(f"Unknown selection {selection!r}: use pending, failed or all.")
    owners = list(owners)
    if owners:
        groups = groups.filter(owner__user_id__in=owners)
    return groups
