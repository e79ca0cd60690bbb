"""Sync many groups at once: the same Chat calls as ``execute``, with the database work done a batch at a time.

The bulk runner's path (``contactgroups.bulk``). Each group's calls are planned and sent by ``execute._run``, its
answers kept by ``execute.settle``, exactly as ``execute.sync_group`` does; only the statements around them are
shared by a batch instead of a dozen for each group:

- ``claim``: the leases of the batch's free groups (two UPDATEs), their rows with their owners and their
  conversations (two SELECTs), and one UPDATE marking them syncing and writing, before any call, the create
  intent of each group whose first call will be a create.
- ``run``: one group's Chat calls, in the caller's thread, with the lease already held (renewed only when a sync
  runs long) and its audit rows kept in memory.
- ``save``: one transaction for the whole batch: the groups and their conversations read again under lock (staff
  may have changed them meanwhile), one UPDATE per distinct answer of Chat for the conversations, one for the
  groups, one INSERT for the versions Chat confirmed, one for the audit rows, one for their refusal codes, one for
  the history entries, and one UPDATE releasing the leases. A group whose sync adopted changes made in the app is
  saved as ``execute`` saves it, in the same transaction.

A batch's audit rows are written with the outcomes they led to: if the process dies between a call and the
batch's commit, both are lost, and the create intent (or the lease left to expire, which marks the next sync
interrupted) makes the next sync read Chat before it sends anything, so nothing is created twice.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connections, router, transaction
from django.utils import timezone

from contactgroups.chat.types import Conversation
from contactgroups.models import ContactGroup, ContactItem, GroupVersion
from contactgroups.models.versions import confirmed_state
from contactgroups.sync import execute, plan
from contactgroups.sync.audit import BufferedAuditRecorder, log_histories, save_attempts
from contactgroups.sync.lease import Lease
from contactgroups.sync.outcome import Progress


@dataclass
class Work:
    """One claimed group: its row as read, its conversations in id order, its lease, the intent already written."""

    group: ContactGroup
    conversations: tuple[Conversation, ...]
    lease: Lease
    tokens: tuple[str, str]
    intent: str = ""
    state: str = ""


@dataclass
class Done:
    """One group's calls made: what Chat confirmed, the audit rows kept, the error that stopped it if any."""

    work: Work
    progress: Progress
    recorder: BufferedAuditRecorder
    error: BaseException | None = None


@dataclass(frozen=True)
class Saved:
    """Where a batch's save left one group: what ``execute.sync_group`` returns, and the row as saved."""

    result: execute.SyncResult
    group: ContactGroup
    error: BaseException | None = None
    attempts: int = field(default=1, compare=False)


def claim(group_pks: list[int]) -> tuple[list[Work], list[int]]:
    """Take the leases of the free groups among ``group_pks`` and prepare their syncs (five statements).

    Returns the claimed work, and the pks not claimed: held by another sync, deleted, or gone (the caller syncs
    those one by one, which waits for a lease and says what happened to the others).
    """
    rows = ContactGroup.objects.filter(pk__in=group_pks).exclude(state=ContactGroup.State.DELETED)
    tokens = Lease.take_free(rows)
    groups = list(ContactGroup.objects.select_related("owner").filter(pk__in=group_pks, sync_lock_token__in=tokens)
                  .order_by("pk"))
    conversations: dict[int, list[Conversation]] = defaultdict(list)
    for group_id, kind, to_account, to_group_id in (
        ContactItem.objects.filter(group_id__in=[group.pk for group in groups])
        .order_by("group_id", "id").values_list("group_id", "type", "to_account", "to_group_id")
    ):
        conversations[group_id].append(ContactItem.conversation_of(kind, to_account, to_group_id))
    works, intents = [], {}
    for group in groups:
        lease = Lease.held(group.pk, group.sync_lock_token, tokens)
        work = Work(group, tuple(conversations[group.pk]), lease, tokens, state=group.state)
        if not group.delete_requested and not plan.must_read(group.chat_group_id, group.create_intent,
                                                             lease.interrupted):
            # Never sent: the plan needs no read of Chat, so its create (if any) is known now.
            steps = plan.plan(plan.Base(), plan.Desired(group.name, work.conversations), plan.NOT_READ)
            if steps.create is not None:
                work.intent = intents[group.pk] = steps.create.name
        works.append(work)
    syncing = [work.group for work in works if not work.group.delete_requested]
    if syncing:
        update_rows(ContactGroup, ("state", "create_intent"), [
            (ContactGroup.State.SYNCING, intents.get(group.pk, group.create_intent), group.pk) for group in syncing])
    claimed = {work.group.pk for work in works}
    return works, [pk for pk in group_pks if pk not in claimed]


def unclaim(works: list[Work]) -> None:
    """Give back claimed groups whose calls never started (a run stopped): their state, intent and lease."""
    by_before: dict[tuple[str, str], list[int]] = defaultdict(list)
    for work in works:
        by_before[(work.state, work.group.create_intent)].append(work.group.pk)
    tokens = {token for work in works for token in work.tokens}
    for (state, intent), pks in by_before.items():
        ContactGroup.objects.filter(pk__in=pks, sync_lock_token__in=tokens).update(
            state=state, create_intent=intent, sync_lock_token="", sync_lock_until=None)


def run(work: Work, actor_id: int | None, client) -> Done:
    """Send one claimed group's plan to Chat with ``client``; never raises (the error is kept in the result)."""
    group = work.group
    recorder = BufferedAuditRecorder(actor_id, group.owner.user_id, group)
    progress = Progress(
        owner=group.owner.user_id,
        base={Conversation(*pair) for pair in group.confirmed_conversations},
        confirmed_name=group.confirmed_name,
        group_id=group.chat_group_id,
        interrupted=work.lease.interrupted,
    )
    try:
        work.lease.keep()
        with execute._client_for(recorder, client) as chat_api:
            execute._run(chat_api, group, progress, work.lease, work.conversations, work.intent)
    except Exception as exc:  # kept on the group by ``save``, as sync_group keeps it
        return Done(work, progress, recorder, exc)
    return Done(work, progress, recorder)


@transaction.atomic
def save(done: list[Done], actor_id: int | None) -> list[Saved]:
    """Store what Chat answered for each of ``done`` in one transaction; where each group ended, in order."""
    now = timezone.now()
    pks = [item.work.group.pk for item in done]
    fresh = {group.pk: group for group in
             ContactGroup.objects.select_for_update(of=("self",)).select_related("owner").filter(pk__in=pks)
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
        pk = item.work.group.pk
        group = fresh.get(pk)
        if group is None:
            continue
        if execute.adopts(item.progress):
            result = execute._save(group, item.progress, item.recorder.calls, error=item.error, actor_id=actor_id)
            group = ContactGroup.objects.select_related("owner").get(pk=pk)
        else:
            for answer, answered_pks in execute.answered(rows[pk], item.progress).items():
                answers[answer] += answered_pks
                codes[pk].update(dict.fromkeys(answered_pks, answer[0]))
            before = confirmed_state(group)
            execute.settle(group, item.progress, rows[pk], list(codes[pk].values()), now, item.error)
            if (version := GroupVersion.after_save(group, before, actor_id, now)) is not None:
                versions.append(version)
            group.updated_at = now
            settled.append(group)
            result = execute.SyncResult(group.pk, group.state, group.chat_group_id, group.last_outcome,
                                        item.recorder.calls)
        histories.append((group, [execute.sync_entry(result.outcome, item.work.group)]))
        saved.append(Saved(result, group, item.error))
    for (code, info), answered_pks in answers.items():
        ContactItem.objects.filter(pk__in=answered_pks).update(result_code=code, result_info=info, result_at=now)
    if settled:  # the fields ``execute.settle`` sets, for the whole batch in one UPDATE
        fields = execute.SETTLED_FIELDS
        update_rows(ContactGroup, fields, [
            (*(getattr(group, ContactGroup._meta.get_field(name).attname) for name in fields), group.pk)
            for group in settled])
    if versions:
        GroupVersion.objects.bulk_create(versions)
    save_attempts([attempt for item in done for attempt in item.recorder.attempts])
    log_histories(actor_id, histories)
    tokens = {token for item in done for token in item.work.tokens}
    ContactGroup.objects.filter(pk__in=pks, sync_lock_token__in=tokens).update(sync_lock_token="",
                                                                                 sync_lock_until=None)
    return saved


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
