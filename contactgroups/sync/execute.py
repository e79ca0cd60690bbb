"""Sync one group: take its lease, read Chat, plan, send the plan, and store what Chat answered.

Every Chat call is audited as it returns (audit.AuditRecorder); what Chat confirmed is saved even when a later
call fails; the outcome is stored on the group and in its history as data, under the staff user who caused it.
"""

import logging
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from contactgroups.chat import errors, protocol
from contactgroups.chat.client import ChatClient
from contactgroups.chat.types import Conversation
from contactgroups.conf import app_settings, chat_client
from contactgroups.models import ContactGroup, ContactItem, GroupVersion
from contactgroups.models.versions import confirmed_state
from contactgroups.outcomes import SyncCode, SyncOutcome
from contactgroups.sync import plan
from contactgroups.sync.audit import AuditRecorder, log_history
from contactgroups.sync.lease import Lease
from contactgroups.sync.live import LiveProgress
from contactgroups.sync.outcome import Progress, failure, queue_failure

logger = logging.getLogger(__name__)


# The columns settle() sets: what a sync's end writes on the group (a sync that adopts the name from the app adds it).
SETTLED_FIELDS = (
    "confirmed_conversations", "confirmed_name", "chat_group_id", "create_intent", "conflicts", "last_error_code",
    "last_error_info", "last_synced_at", "last_outcome", "state", "conversation_count", "accepted_count",
    "refused_count", "sync_calls_done", "sync_calls_planned", "updated_at",
)


@dataclass(frozen=True)
class SyncResult:
    """What a sync left on the group: its state, Chat's GroupId, the outcome (data) and the calls it made."""

    group_pk: int
    state: str
    group_id: int | None
    outcome: dict
    calls: int = 0

    @property
    def failed(self) -> bool:
        return self.state == ContactGroup.State.FAILED


def is_retryable(exc: BaseException) -> bool:
    return bool(getattr(exc, "retryable", False))


def retry_delay(attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): exponential, full jitter."""
    base = app_settings.SYNC_RETRY_BASE_SECONDS
    return random.uniform(0, min(app_settings.SYNC_RETRY_CAP_SECONDS, base * 2**attempt))


def sync_group(group_pk: int, actor_id: int | None, client: ChatClient | None = None) -> SyncResult:
    """Bring Chat to the group's desired state; return what the sync left on the group.

    Raises the Chat error when a call fails (``is_retryable`` tells whether to try again); what Chat confirmed
    before the failure is kept all the same. ``client`` is a ChatClient to reuse (the bulk runner gives each
    thread one); by default the sync makes its own from the settings.
    """
    lease = Lease.take(group_pk)
    try:
        group = ContactGroup.objects.select_related("owner").get(pk=group_pk)
        if group.state == ContactGroup.State.DELETED:
            return SyncResult(group.pk, group.state, group.chat_group_id,
                              SyncOutcome(SyncCode.ALREADY_DELETED).to_json())
        if not group.delete_requested:
            group.state = ContactGroup.State.SYNCING
            group.sync_calls_done = group.sync_calls_planned = 0
            group.save(update_fields=["state", "sync_calls_done", "sync_calls_planned"])
        progress = Progress(
            owner=group.owner.user_id,
            base={Conversation(*pair) for pair in group.confirmed_conversations},
            confirmed_name=group.confirmed_name,
            group_id=group.chat_group_id,
            interrupted=lease.interrupted,
        )
        recorder = AuditRecorder(actor_id, group.owner.user_id, group)
        try:
            with _client_for(recorder, client) as chat_api:
                _run(chat_api, group, progress, lease)
        except Exception as exc:
            result = _save(group, progress, recorder.calls, error=exc, actor_id=actor_id)
            log_history(actor_id, group, [sync_entry(result.outcome, group)])
            raise
        result = _save(group, progress, recorder.calls, actor_id=actor_id)
        log_history(actor_id, group, [sync_entry(result.outcome, group)])
        return result
    finally:
        lease.release()


@contextmanager
def _client_for(recorder: AuditRecorder, client: ChatClient | None):
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


def _run(client: ChatClient, group: ContactGroup, progress: Progress, lease: Lease,
         conversations: tuple[Conversation, ...] | None = None, intent_written: str = "") -> None:
    """Read Chat unless the group was certainly never sent, plan, and send the plan call by call.

    ``conversations`` are the group's rows in id order when the caller has read them already (the batch path);
    ``intent_written`` is the create intent the caller has already stored, so it is not written again.
    """
    owner = group.owner.user_id
    if conversations is None:
        conversations = tuple(group.items.order_by("id").conversations())
    desired = plan.Desired(group.name, conversations, group.delete_requested)
    base = plan.Base(group.confirmed_name, frozenset(progress.base))
    # What Chat confirmed (and still has) that no row can hold, a ToGroupId over its column, was never the staff's
    # to remove.
    unheld = {c for c in progress.base if ContactItem.storage_problem(c) is not None}
    remote = plan.NOT_READ
    taken = {}
    live = LiveProgress(group.pk)
    if plan.must_read(group.chat_group_id, group.create_intent, lease.interrupted):
        chat = client.get_contact_group(owner)
        lease.keep()
        live.read()
        remote = remote_for(chat, group, desired.delete)
        taken = plan.taken_names(chat, remote, [desired.name])
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
    progress.start(steps)
    live.start(steps)

    if steps.create is not None:
        # Written before the call: if its answer is lost, the next sync looks for the group by this name.
        if steps.create.name != intent_written:
            ContactGroup.objects.filter(pk=group.pk).update(create_intent=steps.create.name)
        progress.create_sent = True
        try:
            answer = client.create_contact_group(owner, steps.create.name, list(steps.create.conversations))
        except errors.ChatError as exc:
            lease.keep()
            if not _name_refused(client, owner, exc, steps.create.name, None, progress, create=True):
                raise
            live.answered()
            return  # nothing was created, so nothing else can be sent
        lease.keep()
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
            lease.keep()
            if not _name_refused(client, owner, exc, new, steps.group_id, progress, create=False):
                raise
            # The group keeps the name Chat has: the rest of the change is sent under it.
            updates = tuple(replace(update, name=old) for update in updates)
        else:
            lease.keep()
            progress.renamed_from, progress.confirmed_name = old, new
        live.answered()
    else:
        updates = steps.updates
    for update in updates:
        answer = client.update_contact_group(owner, update.name, add=list(update.add), remove=list(update.remove))
        lease.keep()
        live.answered(answer.results)
        for item in answer.results:
            progress.take(item, adding=(item.operation or protocol.OPERATION_ADD) == protocol.OPERATION_ADD)
    if steps.delete is not None:
        answer = client.del_contact_group(owner, steps.delete)
        progress.group_id = answer.group_id or progress.group_id
    progress.deleted = steps.deleted


def _name_refused(client: ChatClient, owner: str, exc: BaseException, name: str, own_id: int | None,
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
    claimed = frozenset()
    if plan.needs_claimed(chat, group.chat_group_id) and group.confirmed_name and not group.create_intent:
        claimed = frozenset(ContactGroup.objects.filter(owner_id=group.owner_id, chat_group_id__isnull=False)
                            .exclude(pk=group.pk).values_list("chat_group_id", flat=True))
    return plan.remote_of(chat, group.chat_group_id, group.create_intent, group.name, deleting,
                          former_name=group.confirmed_name, claimed=claimed)


def sync_entry(data: dict, group: ContactGroup) -> dict:
    """A sync's history entry: its outcome, and the staff action it carries out (``group`` as the sync read it)."""
    if group.last_staff_action is None:
        return {"sync": data}
    return {"sync": data, "cause": group.last_staff_action}


@transaction.atomic
def _save(group: ContactGroup, progress: Progress, calls: int, error: BaseException | None = None,
          actor_id: int | None = None) -> SyncResult:
    group = ContactGroup.objects.select_for_update().select_related("owner").get(pk=group.pk)
    before = confirmed_state(group)
    now = timezone.now()
    _adopt(group, progress, now)
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
    version = GroupVersion.after_save(group, before, actor_id, now)
    if version is not None:
        version.save(force_insert=True)
    return SyncResult(group.pk, group.state, group.chat_group_id, group.last_outcome, calls)


def adopts(progress: Progress) -> bool:
    """Whether the sync found changes made in the app to write into the mirror (rows or the name)."""
    return bool(progress.adopted_removed or progress.adopted_added or progress.adopted_name)


def _adopt(group: ContactGroup, progress: Progress, now) -> None:
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
    """Set on ``group`` (read again under lock, not saved here) what the sync leaves: Chat's confirmed state,
    the GroupId, the outcome, the state and the counts.

    ``conversations`` are the group's rows as they are now, ``codes`` their ResultCodes after this sync's answers.
    """
    group.sync_calls_done = group.sync_calls_planned = 0  # no sync runs once this is saved
    group.confirmed_conversations = [[c.type, c.target] for c in sorted(progress.base)]
    group.confirmed_name = progress.confirmed_name
    if progress.group_id is not None:
        group.chat_group_id = progress.group_id
        if progress.created or not progress.create_sent:
            group.create_intent = ""
    if progress.create_refused:
        group.create_intent = ""  # Chat refused that create: the next sync must not look for the group by it
    if progress.conflicts:
        group.conflicts = [conflict.as_data() for conflict in progress.conflicts]

    if error is not None:
        group.last_error_code = getattr(error, "code", None)
        group.last_error_info = getattr(error, "info", "") or ""
        if not is_retryable(error):
            group.state = ContactGroup.State.FAILED
        elif group.delete_requested:
            group.state = ContactGroup.State.DELETING
        else:
            group.state = ContactGroup.State.QUEUED
        group.last_outcome = progress.as_data(error, retrying=is_retryable(error))
    else:
        group.last_error_code = None
        group.last_error_info = ""
        group.last_synced_at = now
        group.last_outcome = progress.as_data()
        if progress.deleted:
            group.state = ContactGroup.State.DELETED
        elif group.name == progress.confirmed_name and set(conversations.values()) == {
            c for c in progress.base if ContactItem.storage_problem(c) is None
        }:
            group.state = ContactGroup.State.SYNCED
        else:
            group.state = ContactGroup.State.PARTIAL
    group.refresh_counts(save=False, codes=codes)


def _mark_failed(group_pk: int, actor_id: int | None, data: dict, error: BaseException | None) -> None:
    group = ContactGroup.objects.select_related("owner").filter(pk=group_pk).first()
    if group is None:
        return
    group.state = ContactGroup.State.FAILED
    group.last_error_code = getattr(error, "code", None)
    group.last_error_info = getattr(error, "info", "") or ""
    group.last_outcome = data
    group.save(update_fields=["state", "last_error_code", "last_error_info", "last_outcome", "updated_at"])
    log_history(actor_id, group, [sync_entry(data, group)])


def give_up(group_pk: int, actor_id: int | None, exc: BaseException) -> None:
    """After the last retry: mark the group failed with the last error, and say so in the history."""
    data = SyncOutcome(SyncCode.GAVE_UP, attempts=app_settings.SYNC_MAX_ATTEMPTS, error=failure(exc)).to_json()
    _mark_failed(group_pk, actor_id, data, exc)


def not_queued(group_pk: int, actor_id: int | None, exc: BaseException) -> None:
    """The broker could not take the group's sync task: mark the group failed, saying so, and in the history."""
    data = SyncOutcome(SyncCode.NOT_QUEUED, error=queue_failure(exc)).to_json()
    _mark_failed(group_pk, actor_id, data, None)


def attempt_sync(group_pk: int, actor_id: int | None, attempt: int,
                 client: ChatClient | None = None) -> tuple[SyncResult | None, float | None]:
    """Attempt number ``attempt`` (0-based) of a group's sync: what it left on the group (None if it stopped), and
    the seconds to wait before the next attempt, or None when there is none to make (synced, refused for good,
    given up after the last attempt, or the group is gone).

    Every runner of syncs (the Celery task, the web process's background runner, the commands) retries by this
    one rule.
    """
    try:
        return sync_group(group_pk, actor_id, client=client), None
    except ContactGroup.DoesNotExist:
        return None, None
    except Exception as exc:
        if not is_retryable(exc):
            log_unexpected(group_pk, exc)
            return None, None
        if attempt + 1 >= app_settings.SYNC_MAX_ATTEMPTS:
            give_up(group_pk, actor_id, exc)
            return None, None
        return None, retry_delay(attempt)


def sync_with_retries(group_pk: int, actor_id: int | None, sleep=time.sleep,
                      client: ChatClient | None = None, attempts_made: int = 0) -> SyncResult | None:
    """Sync here and now, waiting between retries (the commands' runners); ``client`` as in sync_group.

    ``attempts_made``: attempts that already failed with a retryable error elsewhere (the batch path); they count
    towards SYNC_MAX_ATTEMPTS, and the first attempt here waits as a retry would.
    """
    if attempts_made:
        sleep(retry_delay(attempts_made - 1))
    for attempt in range(attempts_made, app_settings.SYNC_MAX_ATTEMPTS):
        result, delay = attempt_sync(group_pk, actor_id, attempt, client=client)
        if delay is None:
            return result
        sleep(delay)
    return None


def log_unexpected(group_pk: int, exc: BaseException) -> None:
    """A permanent failure is stored on the group; one that is not Chat's is a bug: log its traceback."""
    if isinstance(exc, errors.ChatError):
        logger.warning("Sync of group %s failed: %s", group_pk, exc)
    else:
        logger.error("Sync of group %s failed unexpectedly", group_pk, exc_info=exc)
