"""The sync pipeline: claim, read Chat, plan, send, store, as named steps, for one group or a batch of them.

- ``claim_one`` takes a group's lease (waiting for another sync of it) and marks it syncing; ``claim_many`` takes
  the leases of a batch's free groups in two UPDATEs, reads their rows and conversations in two SELECTs, marks
  them syncing in one UPDATE, and writes in one more, before any call, the create intent of each group whose first
  call will be a create (``give_back`` returns claimed groups whose calls never started).
- ``read_chat`` reads the owner's groups in Chat unless the group was certainly never sent; ``plan_steps`` asks
  the planner (``plan.plan``) what to send; ``send`` sends it call by call, keeping what Chat confirmed in a
  ``Progress`` even when a later call fails. ``run`` does these three for one claimed group and never raises.
- ``store.store_one`` and ``store.store_many`` keep what Chat answered: for one group, or for a batch in one
  transaction.

Two strategies over the same steps: ``sync_group`` (one group: its lease waited for, each Chat call audited as
it returns) and ``sync_batch`` (many groups claimed and stored a batch at a time, the audit rows written with the
outcomes they led to). Both give each group's ``SyncResult``. If a process dies between a call and the batch's
commit, both are lost, and the create intent (or the lease left to expire, which marks the next sync interrupted)
makes the next sync read Chat before it sends anything, so nothing is created twice.
"""

from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, replace

from django.db import transaction

from contactgroups.chat import errors, protocol
from contactgroups.chat.client import ChatClient
from contactgroups.chat.types import Conversation
from contactgroups.conf import chat_client
from contactgroups.models import ContactGroup, ContactItem, GroupSync
from contactgroups.outcomes import SyncCode, SyncOutcome
from contactgroups.sync import plan, store
from contactgroups.sync.audit import AuditRecorder, BufferedAuditRecorder
from contactgroups.sync.lease import Lease
from contactgroups.sync.live import LiveProgress
from contactgroups.sync.outcome import Progress
from contactgroups.sync.store import SyncResult

__all__ = ["SyncResult", "claim_many", "claim_one", "give_back", "plan_steps", "read_chat", "run", "send",
           "send_all", "sync_batch", "sync_group"]


@dataclass
class Claimed:
    """One claimed group: its row as read, its conversations in id order, its lease, the lease tokens of its batch
    (none for a group claimed alone), the create intent already written and the state it had before."""

    group: ContactGroup
    conversations: tuple[Conversation, ...]
    lease: Lease
    tokens: tuple[str, ...] = ()
    intent: str = ""
    state: str = ""


@dataclass
class Sent:
    """One group's calls made: what Chat confirmed, the audit hook that saw them, the error that stopped them."""

    claimed: Claimed
    progress: Progress
    recorder: AuditRecorder
    error: BaseException | None = None


# Claim -----------------------------------------------------------------------------------------------------------

def claim_one(group_pk: int, attempt: int = 0) -> Claimed | None:
    """Take the group's lease (waiting for another sync of it: SyncBusy past the wait; DoesNotExist when it is gone)
    and mark it syncing, unless it is to be deleted or is deleted already. The caller releases the lease.

    ``attempt`` (0-based): a first attempt starts the group's retries afresh; a retry is claimed only while the
    group's sync row waits for that attempt (``retries.schedule``), else None (it was brought forward, or the sync
    ended or failed again since: that retry is not the group's to make)."""
    lease = Lease.take(group_pk)
    try:
        group = ContactGroup.objects.select_related("owner", "sync").get(pk=group_pk)
        confirmed = group.sync
        if attempt and confirmed.attempts != attempt:
            lease.release()
            return None
        stale = []
        if confirmed.calls_done or confirmed.calls_planned:  # the progress a sync that stopped left
            confirmed.calls_done = confirmed.calls_planned = 0
            stale += ["calls_done", "calls_planned"]
        if not attempt and (confirmed.attempts or confirmed.retry_at):  # the retries of an earlier sync
            confirmed.attempts, confirmed.retry_at = 0, None
            stale += ["attempts", "retry_at"]
        if stale:
            confirmed.save(update_fields=stale)
        if group.state != ContactGroup.State.DELETED and not group.delete_requested:
            group.state = ContactGroup.State.SYNCING
            group.save(update_fields=["state"])
        return Claimed(group, tuple(group.items.order_by("id").conversations()), lease)
    except BaseException:
        lease.release()
        raise


def claim_many(group_pks: list[int]) -> tuple[list[Claimed], list[int]]:
    """Take the leases of the free groups among ``group_pks`` and prepare their syncs (six statements).

    Returns the claimed groups, and the pks not claimed: held by another sync, deleted, or gone (the caller syncs
    those one by one, which waits for a lease and says what happened to the others).
    """
    rows = ContactGroup.objects.filter(pk__in=group_pks).exclude(state=ContactGroup.State.DELETED)
    tokens = Lease.take_free(rows)
    groups = list(ContactGroup.objects.select_related("owner", "sync")
                  .filter(pk__in=group_pks, sync__lock_token__in=tokens).order_by("pk"))
    conversations: dict[int, list[Conversation]] = defaultdict(list)
    for group_id, kind, to_account, to_group_id in (
        ContactItem.objects.filter(group_id__in=[group.pk for group in groups])
        .order_by("group_id", "id").values_list("group_id", "type", "to_account", "to_group_id")
    ):
        conversations[group_id].append(ContactItem.conversation_of(kind, to_account, to_group_id))
    claimed, intents = [], {}
    for group in groups:
        lease = Lease.held(group.pk, group.sync.lock_token, tokens)
        one = Claimed(group, tuple(conversations[group.pk]), lease, tokens, state=group.state)
        if not group.delete_requested and not plan.must_read(group.sync.chat_group_id, group.sync.create_intent,
                                                             lease.interrupted):
            # Never sent: the plan needs no read of Chat, so its create (if any) is known now.
            steps = plan.plan(plan.Base(), plan.Desired(group.name, one.conversations), plan.NOT_READ)
            if steps.create is not None:
                one.intent = intents[group.pk] = steps.create.name
        claimed.append(one)
    syncing = [one.group.pk for one in claimed if not one.group.delete_requested]
    if syncing:
        # Both before any call (a process that dies between them leaves leases that expire, and the next sync,
        # interrupted, reads Chat first).
        ContactGroup.objects.filter(pk__in=syncing).update(state=ContactGroup.State.SYNCING)
        if intents:
            store.update_rows(GroupSync, ("create_intent",), [(intent, pk) for pk, intent in intents.items()])
    taken = {one.group.pk for one in claimed}
    return claimed, [pk for pk in group_pks if pk not in taken]


def give_back(claimed: list[Claimed]) -> None:
    """Give back claimed groups whose calls never started (a run stopped): their state, intent and lease."""
    by_before: dict[tuple[str, str], list[int]] = defaultdict(list)
    for one in claimed:
        by_before[(one.state, one.group.sync.create_intent)].append(one.group.pk)
    tokens = {token for one in claimed for token in one.tokens}
    with transaction.atomic():
        for (state, intent), pks in by_before.items():
            ContactGroup.objects.filter(pk__in=pks, sync__lock_token__in=tokens).update(state=state)
            GroupSync.objects.filter(group_id__in=pks, lock_token__in=tokens).update(
                create_intent=intent, lock_token="", lock_until=None)


# Read Chat, plan, send -------------------------------------------------------------------------------------------

@contextmanager
def audited(client: ChatClient | None, recorder: AuditRecorder):
    """``client`` with ``recorder`` as its audit hook for this one sync, or a new client of the settings."""
    if client is None:
        with chat_client(on_call=recorder) as own:
            yield own
        return
    previous, client.on_call = client.on_call, recorder
    try:
        yield client
    finally:
        client.on_call = previous


def run(claimed: Claimed, client: ChatClient | None, recorder: AuditRecorder) -> Sent:
    """Read Chat, plan and send for one claimed group with ``client`` (audited by ``recorder``); never raises (the
    error is kept in what it returns)."""
    group = claimed.group
    progress = Progress(
        owner=group.owner.user_id,
        base={Conversation(*pair) for pair in group.sync.confirmed_conversations},
        confirmed_name=group.sync.confirmed_name,
        group_id=group.sync.chat_group_id,
        interrupted=claimed.lease.interrupted,
    )
    live = LiveProgress(group.pk)
    try:
        claimed.lease.keep()
        with audited(client, recorder) as chat_api:
            remote, taken = read_chat(chat_api, claimed, live)
            send(chat_api, claimed, progress, plan_steps(claimed, progress, remote, taken), live)
    except Exception as exc:  # kept on the group by the store step
        return Sent(claimed, progress, recorder, exc)
    return Sent(claimed, progress, recorder)


def read_chat(client: ChatClient, claimed: Claimed, live: LiveProgress):
    """The group as Chat holds it (``plan.Remote``, ``plan.MISSING``) and the names the owner's other groups
    have there, read unless the group was certainly never sent (then ``plan.NOT_READ`` and none)."""
    group = claimed.group
    if not plan.must_read(group.sync.chat_group_id, group.sync.create_intent, claimed.lease.interrupted):
        return plan.NOT_READ, {}
    chat = client.get_contact_group(group.owner.user_id)
    claimed.lease.keep()
    live.read()
    remote = remote_for(chat, group, group.delete_requested)
    return remote, plan.taken_names(chat, remote, [group.name])


def plan_steps(claimed: Claimed, progress: Progress, remote, taken) -> plan.Plan:
    """What to send to bring Chat to the group's desired state, from what it confirmed and what was read."""
    group = claimed.group
    desired = plan.Desired(group.name, claimed.conversations, group.delete_requested)
    base = plan.Base(group.sync.confirmed_name, frozenset(progress.base))
    # What Chat confirmed (and still has) that no row can hold, a ToGroupId over its column, was never the staff's
    # to remove.
    unheld = {c for c in progress.base if ContactItem.storage_problem(c) is not None}
    if isinstance(remote, plan.Remote):
        unheld &= remote.conversations
    steps = plan.plan(base, desired, remote, taken)
    if unheld:
        kept = plan.Desired(desired.name, desired.conversations + tuple(sorted(unheld)), desired.delete)
        steps_keeping = plan.plan(base, kept, remote, taken)
        # A group gone from Chat and created again starts empty: a create cannot carry what no row can hold (Chat
        # refuses such a ToGroupId in a request), so they are kept only where Chat still has them.
        if steps_keeping.create is None:
            steps = steps_keeping
    return steps


def send(client: ChatClient, claimed: Claimed, progress: Progress, steps: plan.Plan, live: LiveProgress) -> None:
    """Send the plan call by call, keeping in ``progress`` what Chat confirmed; Chat's error as it comes."""
    owner = claimed.group.owner.user_id
    progress.start(steps)
    live.start(steps)

    if steps.create is not None:
        # Written before the call: if its answer is lost, the next sync looks for the group by this name.
        if steps.create.name != claimed.intent:
            GroupSync.objects.filter(group_id=claimed.group.pk).update(create_intent=steps.create.name)
        progress.create_sent = True
        try:
            answer = client.create_contact_group(owner, steps.create.name, list(steps.create.conversations))
        except errors.ChatError as exc:
            claimed.lease.keep()
            if not name_refused(client, owner, exc, steps.create.name, None, progress, create=True):
                raise
            live.answered()
            return  # nothing was created, so nothing else can be sent
        claimed.lease.keep()
        live.answered(answer.results)
        progress.created = True
        progress.group_id = answer.group_id
        progress.confirmed_name = answer.group_name or steps.create.name
        progress.base = set()
        for item in answer.results:
            progress.take(item, adding=True)
    if steps.rename is not None:
        old, new = steps.rename
        updates = steps.updates
        try:
            client.rename_contact_group(owner, old, new)
        except errors.ChatError as exc:
            claimed.lease.keep()
            if not name_refused(client, owner, exc, new, steps.group_id, progress, create=False):
                raise
            # The group keeps the name Chat has: the rest of the change is sent under it.
            updates = tuple(replace(update, name=old) for update in updates)
        else:
            claimed.lease.keep()
            progress.renamed_from, progress.confirmed_name = old, new
        live.answered()
    else:
        updates = steps.updates
    for update in updates:
        answer = client.update_contact_group(owner, update.name, add=list(update.add), remove=list(update.remove))
        claimed.lease.keep()
        live.answered(answer.results)
        for item in answer.results:
            progress.take(item, adding=(item.operation or protocol.OPERATION_ADD) == protocol.OPERATION_ADD)
    if steps.delete is not None:
        answer = client.del_contact_group(owner, steps.delete)
        progress.group_id = answer.group_id or progress.group_id
    progress.deleted = steps.deleted


def name_refused(client: ChatClient, owner: str, exc: BaseException, name: str, own_id: int | None,
                  progress: Progress, create: bool) -> bool:
    """Whether Chat refused a create or a rename to ``name`` because another of the owner's groups has that name
    (made or renamed in the app since the sync read Chat): Chat is read again to tell. If so the conflict is kept
    in ``progress`` (``NAME_TAKEN``, as the planner would have said had it seen that group) and a refused create
    is known not to have made anything."""
    if getattr(exc, "code", None) != errors.GROUP_NAME_TAKEN:
        return False
    if create:
        # A refusal: the create made nothing, so the next sync must not look for the group under its name.
        progress.create_sent, progress.create_refused = False, True
    holder = next((info for info in client.get_contact_group(owner).groups
                   if info.name == name and info.group_id != own_id), None)
    if holder is None:
        return False
    params = {"name": name, "group_id": holder.group_id, "create": create}
    if create and progress.group_id is None:
        params["new"] = True  # never in Chat: only a new name here mends it
    progress.conflicts.append(plan.Conflict(plan.Conflict.NAME_TAKEN, params))
    if create:
        # Chat holds nothing of this group, as when the planner holds a create back.
        progress.base, progress.confirmed_name = set(), ""
    return True


def remote_for(chat, group: ContactGroup, deleting: bool):
    """plan.remote_of() for ``group`` in ``chat`` (its owner's groups, just read).

    When its GroupId is gone from Chat, a group under the name Chat confirmed is the one the user made again in
    the app, unless another group of the mirror has its GroupId (one query, made only then).
    """
    confirmed = group.sync
    claimed = frozenset()
    if plan.needs_claimed(chat, confirmed.chat_group_id) and confirmed.confirmed_name and not confirmed.create_intent:
        claimed = frozenset(GroupSync.objects.filter(owner_id=group.owner_id, chat_group_id__isnull=False)
                            .exclude(group_id=group.pk).values_list("chat_group_id", flat=True))
    return plan.remote_of(chat, confirmed.chat_group_id, confirmed.create_intent, group.name, deleting,
                          former_name=confirmed.confirmed_name, claimed=claimed)


# The two strategies ----------------------------------------------------------------------------------------------

def sync_group(group_pk: int, actor_id: int | None, client: ChatClient | None = None,
               attempt: int = 0) -> SyncResult | None:
    """Bring Chat to the group's desired state; return what the sync left on the group (None for a retry that is
    not the group's to make: ``claim_one``).

    Raises the Chat error when a call fails (``store.is_retryable`` tells whether to try again); what Chat
    confirmed before the failure is kept all the same. ``client`` is a ChatClient to reuse (a worker thread's);
    by default the sync makes its own from the settings. ``attempt``: the attempt's number (0-based).
    """
    claimed = claim_one(group_pk, attempt)
    if claimed is None:
        return None
    try:
        group = claimed.group
        if group.state == ContactGroup.State.DELETED:
            return SyncResult(group.pk, group.state, group.sync.chat_group_id,
                              SyncOutcome(SyncCode.ALREADY_DELETED).to_json())
        sent = run(claimed, client, AuditRecorder(actor_id, group.owner.user_id, group))
        result = store.store_one(group, sent.progress, sent.recorder.calls, sent.error, actor_id)
        if sent.error is not None:
            raise sent.error
        return result
    finally:
        claimed.lease.release()


def sync_batch(group_pks: list[int], actor_id: int | None, client: ChatClient) -> tuple[list[SyncResult], list[int]]:
    """Sync the groups ``group_pks`` one after the other with ``client``, claimed and stored together; their
    results, and the pks not claimed (another sync holds them, or they are gone): the caller syncs those alone."""
    claimed, others = claim_many(group_pks)
    sent = send_all(claimed, actor_id, client)
    return (store.store_many(sent, actor_id) if sent else []), others


def send_all(claimed: list[Claimed], actor_id: int | None, client: ChatClient) -> list[Sent]:
    """``run`` each claimed group in turn, its audit rows kept for the batch's store, the leases of those waiting
    their turn renewed together. If it stops early (the process is stopping), the groups not started are given
    back as they were."""
    sent = []
    try:
        for number, one in enumerate(claimed):
            if one.lease.due():
                Lease.keep_all([later.lease for later in claimed[number:]])
            sent.append(run(one, client, BufferedAuditRecorder(actor_id, one.group.owner.user_id, one.group)))
    finally:
        if len(sent) < len(claimed):
            give_back(claimed[len(sent):])
    return sent
