"""The pipeline's last step, store: what Chat answered kept on the group, for one group or a batch at once.

``store_one`` keeps one sync's end (the group read again under lock, its conversations' answers, its state and
counts on the group, what Chat confirmed and the outcome on its sync row, the version Chat confirmed, its history
entry). ``store_many`` keeps a batch's in one transaction: the groups and their conversations read again under lock
(staff may have changed them meanwhile), one UPDATE per distinct answer of Chat for the conversations, one for the
groups, one for their sync rows, one INSERT for the versions Chat confirmed, one for the audit rows, one for their
refusal codes, one for the history entries, and one UPDATE releasing the leases.
A group whose sync adopted changes made in the app is stored by ``store_one``, in the same transaction. Both give
each group's ``SyncResult``, the one result of a sync.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import IntegrityError, connections, router, transaction
from django.db.models import Q
from django.utils import timezone

from contactgroups.chat import errors
from contactgroups.chat.types import Conversation
from contactgroups.models import ContactGroup, ContactItem, GroupSync, GroupVersion
from contactgroups.models.versions import confirmed_state
from contactgroups.sync.audit import log_histories, log_history, save_attempts
from contactgroups.sync.outcome import Progress

# The columns settle() sets: what a sync's end writes on the group (a sync that adopts the name from the app adds
# it), and on its sync row. The group's ``updated_at`` moves with every end: a bulk run follows its groups by it.
SETTLED_FIELDS = ("state", "conversation_count", "accepted_count", "refused_count", "updated_at")
SETTLED_SYNC_FIELDS = (
    "confirmed_conversations", "confirmed_name", "chat_group_id", "create_intent", "deleted", "conflicts",
    "last_error_code", "last_error_info", "last_synced_at", "last_outcome", "calls_done", "calls_planned",
    "attempts", "retry_at",
)


@dataclass(frozen=True)
class SyncResult:
    """Where one group's sync left it: its state, Chat's GroupId, the outcome (data), the Chat calls it made, and
    the error that stopped it (None when it ended)."""

    group_pk: int
    state: str
    group_id: int | None = None
    outcome: dict = field(default_factory=dict)
    calls: int = 0
    error: BaseException | None = field(default=None, compare=False)

    @property
    def failed(self) -> bool:
        return self.state == ContactGroup.State.FAILED


def is_retryable(exc: BaseException) -> bool:
    return bool(getattr(exc, "retryable", False))


def sync_entry(data: dict, group: ContactGroup) -> dict:
    """A sync's history entry: its outcome, and the staff action it carries out (``group`` as the sync read it)."""
    if group.last_staff_action is None:
        return {"sync": data}
    return {"sync": data, "cause": group.last_staff_action}


@transaction.atomic
def store_one(group: ContactGroup, progress: Progress, calls: int, error: BaseException | None = None,
              actor_id: int | None = None) -> SyncResult:
    """Keep one sync's end on ``group`` (as the sync read it) and in its history; its result."""
    read = group
    group = ContactGroup.objects.select_for_update(of=("self",)).select_related("owner", "sync").get(pk=group.pk)
    before = confirmed_state(group)
    now = timezone.now()
    adopt(group, progress, now)
    conversations, codes = {}, {}
    for pk, kind, to_account, to_group_id, code in group.items.values_list(
        "pk", "type", "to_account", "to_group_id", "result_code"
    ):
        conversations[pk] = ContactItem.conversation_of(kind, to_account, to_group_id)
        codes[pk] = code
    # One UPDATE per distinct answer (usually one: every conversation accepted), not a CASE for each row.
    for (code, info), pks in answered(conversations, progress).items():
        ContactItem.objects.filter(pk__in=pks).update(result_code=code, result_info=info, result_at=now)
        codes.update(dict.fromkeys(pks, code))
    settle(group, progress, conversations, list(codes.values()), now, error)
    if progress.adopted_name and group.name == progress.adopted_name:
        try:
            with transaction.atomic():
                group.save(update_fields=[*SETTLED_FIELDS, "name"])
        except IntegrityError:
            # The name the user gave the group in the app is taken by another group of the mirror.
            group.name = ContactGroup.objects.values_list("name", flat=True).get(pk=group.pk)
            group.save(update_fields=SETTLED_FIELDS)
    else:
        group.save(update_fields=SETTLED_FIELDS)
    group.sync.save(update_fields=SETTLED_SYNC_FIELDS)
    version = GroupVersion.after_save(group, before, actor_id, now)
    if version is not None:
        version.save(force_insert=True)
    result = SyncResult(group.pk, group.state, group.sync.chat_group_id, group.sync.last_outcome, calls, error)
    log_history(actor_id, group, [sync_entry(result.outcome, read)])
    return result


@transaction.atomic
def store_many(done: list, actor_id: int | None) -> list[SyncResult]:
    """Store what Chat answered for each of ``done`` (``pipeline.Sent``) in one transaction; each group's result,
    in order."""
    now = timezone.now()
    pks = [item.claimed.group.pk for item in done]
    fresh = {group.pk: group for group in
             ContactGroup.objects.select_for_update(of=("self",)).select_related("owner", "sync").filter(pk__in=pks)
             .order_by("pk")}
    rows: dict[int, dict[int, Conversation]] = defaultdict(dict)
    codes: dict[int, dict[int, int | None]] = defaultdict(dict)
    for group_id, pk, kind, to_account, to_group_id, code in ContactItem.objects.filter(group_id__in=pks).values_list(
        "group_id", "pk", "type", "to_account", "to_group_id", "result_code"
    ):
        rows[group_id][pk] = ContactItem.conversation_of(kind, to_account, to_group_id)
        codes[group_id][pk] = code

    answers: dict[tuple[int, str], list[int]] = defaultdict(list)
    settled, saved, histories, versions = [], [], [], []
    for item in done:
        pk = item.claimed.group.pk
        group = fresh.get(pk)
        if group is None:
            continue
        if adopts(item.progress):
            saved.append(store_one(item.claimed.group, item.progress, item.recorder.calls, item.error, actor_id))
            continue
        for answer, answered_pks in answered(rows[pk], item.progress).items():
            answers[answer] += answered_pks
            codes[pk].update(dict.fromkeys(answered_pks, answer[0]))
        before = confirmed_state(group)
        settle(group, item.progress, rows[pk], list(codes[pk].values()), now, item.error)
        if (version := GroupVersion.after_save(group, before, actor_id, now)) is not None:
            versions.append(version)
        group.updated_at = now
        settled.append(group)
        result = SyncResult(group.pk, group.state, group.sync.chat_group_id, group.sync.last_outcome,
                            item.recorder.calls, item.error)
        histories.append((group, [sync_entry(result.outcome, item.claimed.group)]))
        saved.append(result)
    for (code, info), answered_pks in answers.items():
        ContactItem.objects.filter(pk__in=answered_pks).update(result_code=code, result_info=info, result_at=now)
    if settled:  # the fields ``settle`` sets, for the whole batch in one UPDATE of the groups and one of their syncs
        update_rows(ContactGroup, SETTLED_FIELDS, [
            (*(getattr(group, ContactGroup._meta.get_field(name).attname) for name in SETTLED_FIELDS), group.pk)
            for group in settled])
        update_rows(GroupSync, SETTLED_SYNC_FIELDS, [
            (*(getattr(group.sync, GroupSync._meta.get_field(name).attname) for name in SETTLED_SYNC_FIELDS),
             group.pk) for group in settled])
    if versions:
        GroupVersion.objects.bulk_create(versions)
    save_attempts([attempt for item in done for attempt in item.recorder.attempts])
    log_histories(actor_id, histories)
    tokens = {token for item in done for token in item.claimed.tokens}
    GroupSync.objects.filter(group_id__in=pks, lock_token__in=tokens).update(lock_token="", lock_until=None)
    return saved


def adopts(progress: Progress) -> bool:
    """Whether the sync found changes made in the app to write into the mirror (rows or the name)."""
    return bool(progress.adopted_removed or progress.adopted_added or progress.adopted_name)


def adopt(group: ContactGroup, progress: Progress, now) -> None:
    """Write into the mirror what the user changed in the app: the rows removed and added, the name."""
    if progress.adopted_removed:
        removed = Q()
        for conversation in progress.adopted_removed:
            removed |= Q(**ContactItem.fields_of(conversation))
        group.items.filter(removed).delete()
    if progress.adopted_added:
        ContactItem.objects.bulk_create(
            [ContactItem(group=group, result_code=errors.OK, result_at=now, **ContactItem.fields_of(conversation))
             for conversation in sorted(progress.adopted_added)
             if ContactItem.storage_problem(conversation) is None],
            ignore_conflicts=True,
        )
    if progress.adopted_name and not ContactGroup.objects.live().filter(
        owner=group.owner, name=progress.adopted_name
    ).exclude(pk=group.pk).exists():
        group.name = progress.adopted_name


def answered(conversations: dict[int, Conversation], progress: Progress) -> dict[tuple[int, str], list[int]]:
    """The rows (pks) Chat answered in this sync, by answer (ResultCode, ResultInfo)."""
    found: dict[tuple[int, str], list[int]] = {}
    if progress.results:
        for pk, conversation in conversations.items():
            answer = progress.results.get(conversation)
            if answer is not None:
                found.setdefault(answer, []).append(pk)
    return found


def settle(group: ContactGroup, progress: Progress, conversations: dict[int, Conversation],
           codes: list[int | None], now, error: BaseException | None = None) -> None:
    """Set on ``group`` (read again under lock, with its sync row; neither saved here) what the sync leaves: on the
    sync row Chat's confirmed state, the GroupId and the outcome; on the group the state and the counts.

    ``conversations`` are the group's rows as they are now, ``codes`` their ResultCodes after this sync's answers.
    """
    confirmed = group.sync
    confirmed.calls_done = confirmed.calls_planned = 0  # no sync runs once this is saved
    confirmed.confirmed_conversations = [[c.type, c.target] for c in sorted(progress.base)]
    confirmed.confirmed_name = progress.confirmed_name
    if progress.group_id is not None:
        confirmed.chat_group_id = progress.group_id
        if progress.created or not progress.create_sent:
            confirmed.create_intent = ""
    if progress.create_refused:
        confirmed.create_intent = ""  # Chat refused that create: the next sync must not look for the group by it
    if progress.conflicts:
        confirmed.conflicts = [conflict.as_data() for conflict in progress.conflicts]

    if error is not None:
        confirmed.last_error_code = getattr(error, "code", None)
        confirmed.last_error_info = getattr(error, "info", "") or ""
        if not is_retryable(error):
            group.state = ContactGroup.State.FAILED
            confirmed.attempts, confirmed.retry_at = 0, None  # no retry follows
        elif group.delete_requested:
            group.state = ContactGroup.State.DELETING
        else:
            group.state = ContactGroup.State.QUEUED
        confirmed.last_outcome = progress.as_data(error, retrying=is_retryable(error))
    else:
        confirmed.last_error_code = None
        confirmed.last_error_info = ""
        confirmed.attempts, confirmed.retry_at = 0, None
        confirmed.last_synced_at = now
        confirmed.last_outcome = progress.as_data()
        if progress.deleted:
            group.state = ContactGroup.State.DELETED
            confirmed.deleted = True  # its GroupId no longer counts against the owner's
        elif group.name == progress.confirmed_name and set(conversations.values()) == {
            c for c in progress.base if ContactItem.storage_problem(c) is None
        }:
            group.state = ContactGroup.State.SYNCED
        else:
            group.state = ContactGroup.State.PARTIAL
    group.refresh_counts(save=False, codes=codes)


def mark_failed(group_pk: int, actor_id: int | None, data: dict, error: BaseException | None) -> None:
    """Mark the group failed with ``data`` (its outcome) and ``error``, and say so in its history."""
    group = ContactGroup.objects.select_related("owner", "sync").filter(pk=group_pk).first()
    if group is None:
        return
    group.state = ContactGroup.State.FAILED
    group.sync.last_error_code = getattr(error, "code", None)
    group.sync.last_error_info = getattr(error, "info", "") or ""
    group.sync.last_outcome = data
    group.sync.attempts, group.sync.retry_at = 0, None
    with transaction.atomic():
        group.save(update_fields=["state", "updated_at"])
        group.sync.save(update_fields=["last_error_code", "last_error_info", "last_outcome", "attempts", "retry_at"])
    log_history(actor_id, group, [sync_entry(data, group)])


def update_rows(model, fields: tuple[str, ...], rows: list[tuple]) -> None:
    """``UPDATE model SET fields... WHERE pk = ...`` once for each of ``rows`` (the values, then the pk), sent as
    one prepared statement (``executemany``).

    ``bulk_update`` would build a CASE for every field and row: for a batch of 50 groups, more CPU than the
    Chat calls themselves.
    """
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    sql = "UPDATE {} SET {} WHERE {} = %s".format(
        quote(meta.db_table), ", ".join(f"{quote(column.column)} = %s" for column in columns), quote(meta.pk.column))
    params = [
        [column.get_db_prep_save(value, connection) for column, value in zip(columns, row[:-1], strict=True)]
        + [row[-1]]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
