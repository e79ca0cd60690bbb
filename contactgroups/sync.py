"""Bring Chat to the state the mirror asks for, and keep what Chat answered.

A sync of one group meets three states (see DESIGN.md, "Sync"):

- base: what Chat last confirmed to us (``confirmed_name``, ``confirmed_conversations``);
- desired: the group and its conversations in the database, after the staff's save;
- remote: what Chat holds now (``get_contact_group``).

It sends only the staff's change (desired minus base) that Chat does not already have, and
adopts into the mirror what the end user changed in their app (remote minus base). Where
both changed the same thing, the staff's change wins and the conflict is kept and shown.

Every Chat call is written to ``SyncAttempt`` as soon as it returns, outside any
transaction, and every outcome to the admin history under the staff user who caused it.
Groups are guarded by a short lease in their row, so two syncs of one group never
interleave their calls, without holding a database transaction across HTTP.
"""

import logging
import random
import secrets
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.utils import timezone

from contactgroups.chat import client as chat
from contactgroups.chat import errors, protocol
from contactgroups.chat.types import CallRecord, Conversation, ItemResult
from contactgroups.conf import chat_client
from contactgroups.models import ChatUser, ContactGroup, ContactItem, SyncAttempt

logger = logging.getLogger(__name__)

Key = tuple[int, str]

# A sync's lease lasts settings.SYNC_LEASE_SECONDS unless renewed. It is renewed after a Chat call only once this
# share of it has passed, so a quick sync writes no renewal at all.
LEASE_RENEW_AFTER_SHARE = 1 / 6
LEASE_WAIT_SECONDS = 30
LEASE_POLL_SECONDS = 0.1


class SyncBusy(Exception):
    """Another sync of the same group holds its lease; try again later."""

    retryable = True


def is_retryable(exc: BaseException) -> bool:
    return bool(getattr(exc, "retryable", False))


def retry_delay(attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): exponential, full jitter."""
    base = settings.SYNC_RETRY_BASE_SECONDS
    return random.uniform(0, min(settings.SYNC_RETRY_CAP_SECONDS, base * 2**attempt))


def key_of(conversation: Conversation) -> Key:
    return (conversation.type, conversation.target)


def conversation_of(key: Key) -> Conversation:
    return Conversation(*key)


def describe_target(key: Key) -> str:
    kind, target = key
    return target if kind == protocol.TYPE_C2C else f"group {target}"


# ----------------------------------------------------------------------------------------------------------------
# The lease


def _acquire_lease(group_id: int, wait_seconds: float = LEASE_WAIT_SECONDS) -> tuple[str, bool]:
    """Take the group's sync lease, waiting up to ``wait_seconds`` for another sync to end.

    Returns the lease's token, and whether the lease was taken over from a sync that never released it (its
    worker was killed, or its lease lapsed): that sync may have changed Chat without recording Chat's answer.
    """
    token = secrets.token_hex(8)
    deadline = time.monotonic() + wait_seconds
    while True:
        now = timezone.now()
        lease = {"sync_lock_token": token, "sync_lock_until": now + timedelta(seconds=settings.SYNC_LEASE_SECONDS)}
        group = ContactGroup.objects.filter(pk=group_id)
        if group.filter(sync_lock_until__isnull=True).update(**lease):
            return token, False
        if group.filter(sync_lock_until__lt=now).update(**lease):
            return token, True
        if not ContactGroup.objects.filter(pk=group_id).exists():
            raise ContactGroup.DoesNotExist(f"No conversation group with id {group_id}.")
        if time.monotonic() >= deadline:
            raise SyncBusy(f"Conversation group {group_id} is being synced by another worker.")
        time.sleep(LEASE_POLL_SECONDS)


def _renew_lease(group_id: int, token: str) -> None:
    ContactGroup.objects.filter(pk=group_id, sync_lock_token=token).update(
        sync_lock_until=timezone.now() + timedelta(seconds=settings.SYNC_LEASE_SECONDS)
    )


def _release_lease(group_id: int, token: str) -> None:
    ContactGroup.objects.filter(pk=group_id, sync_lock_token=token).update(sync_lock_token="", sync_lock_until=None)


# ----------------------------------------------------------------------------------------------------------------
# Audit


def _outcome(record: CallRecord) -> str:
    if record.error is not None:
        return SyncAttempt.Outcome.NO_ANSWER if record.error_code is None else SyncAttempt.Outcome.REFUSED
    if record.refused_items:
        return SyncAttempt.Outcome.PARTIAL
    return SyncAttempt.Outcome.OK


class AuditRecorder:
    """The client's ``on_call`` hook: one SyncAttempt row per HTTP attempt, saved at once."""

    def __init__(self, actor_id: int | None, owner_user_id: str, group: ContactGroup | None = None,
                 lease_token: str | None = None):
        self.actor_id = actor_id
        self.owner_user_id = owner_user_id
        self.group = group
        self.lease_token = lease_token
        self.calls = 0
        self._lease_renewed = time.monotonic()
        self._lease_renew_after = settings.SYNC_LEASE_SECONDS * LEASE_RENEW_AFTER_SHARE

    def __call__(self, record: CallRecord) -> None:
        self.calls += 1
        SyncAttempt.objects.create(
            group=self.group,
            owner_user_id=self.owner_user_id,
            group_name=self.group.name if self.group else "",
            actor_id=self.actor_id,
            operation=record.endpoint.rsplit("/", 1)[-1],
            request=record.request,
            response=record.response,
            http_status=record.http_status,
            action_status=record.action_status or "",
            error_code=record.error_code,
            error_info=record.error_info or "",
            refused_items=record.refused_items,
            outcome=_outcome(record),
            started_at=record.started_at,
            duration_ms=round(record.duration * 1000),
        )
        if self.group is not None and self.lease_token:
            if time.monotonic() - self._lease_renewed >= self._lease_renew_after:
                _renew_lease(self.group.pk, self.lease_token)
                self._lease_renewed = time.monotonic()


def log_history(actor_id: int | None, obj, message: str, action_flag: int = CHANGE) -> None:
    """An admin history entry for ``obj`` under the staff user who caused the change (or the addition)."""
    if actor_id is None:
        logger.info("%s: %s", obj, message)
        return
    LogEntry.objects.create(
        user_id=actor_id,
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        action_flag=action_flag,
        change_message=message,
    )


# ----------------------------------------------------------------------------------------------------------------
# What a sync did


@dataclass
class Progress:
    """What Chat has confirmed so far in this sync; saved even when a later call fails."""

    base: set[Key]
    confirmed_name: str
    group_id: int | None
    results: dict[Key, tuple[int, str]] = field(default_factory=dict)
    deleted: bool = False
    deleted_in_app: bool = False
    interrupted: bool = False
    created: bool = False
    renamed_from: str = ""
    adopted_name: str = ""
    adopted_added: set[Key] = field(default_factory=set)
    adopted_removed: set[Key] = field(default_factory=set)
    added: list[Key] = field(default_factory=list)
    removed: list[Key] = field(default_factory=list)
    refused: list[tuple[Key, int, str]] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    calls: int = 0

    def take(self, result: ItemResult, operation: int) -> None:
        key = key_of(result.conversation)
        if operation == protocol.OPERATION_ADD:
            self.results[key] = (result.result_code, result.result_info)
            if result.ok:
                self.base.add(key)
                self.added.append(key)
        elif result.ok:
            self.base.discard(key)
            self.removed.append(key)
        if not result.ok:
            self.refused.append((key, result.result_code, result.result_info))


def _join(keys) -> str:
    return ", ".join(describe_target(key) for key in sorted(keys))


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"


INTERRUPTED_NOTE = "An earlier sync stopped before it could record Chat's answer, so Chat was read first."


def summarize(group: ContactGroup, progress: Progress) -> str:
    """One paragraph a person reads at a glance: what Chat did and what it refused."""
    owner = group.owner.user_id
    notes = [*progress.conflicts, *([INTERRUPTED_NOTE] if progress.interrupted else [])]
    if progress.deleted_in_app:
        return f"{owner} deleted this group in the app (GroupId {progress.group_id}); the mirror now shows it deleted."
    if progress.deleted:
        text = "Deleted from Chat" + (f" (GroupId {progress.group_id})" if progress.group_id else "") + "."
        return " ".join([text, *notes])
    if progress.created:
        parts = [f"Created in Chat as GroupId {progress.group_id}"]
    else:
        parts = [f"Synced to Chat as GroupId {progress.group_id}"]
    changes = []
    if progress.renamed_from:
        changes.append(f"renamed from “{progress.renamed_from}” to “{progress.confirmed_name}”")
    if progress.added:
        changes.append(_count(len(progress.added), "conversation added", "conversations added"))
    if progress.removed:
        changes.append(_count(len(progress.removed), "conversation removed", "conversations removed"))
    if progress.refused:
        refused = "; ".join(
            f"{describe_target(key)}, {code} {errors.describe(code)}" + (f" ({info})" if info else "")
            for key, code, info in progress.refused
        )
        changes.append(f"{len(progress.refused)} refused: {refused}")
    if not changes:
        changes.append("nothing to change, Chat already matched")
    text = parts[0] + ": " + ", ".join(changes) + "."
    adopted = []
    if progress.adopted_name:
        adopted.append(f"renamed the group to “{progress.adopted_name}”")
    if progress.adopted_added:
        adopted.append(f"added {_join(progress.adopted_added)}")
    if progress.adopted_removed:
        adopted.append(f"removed {_join(progress.adopted_removed)}")
    if adopted:
        text += f" In the app, {owner} " + " and ".join(adopted) + "; the mirror now shows it."
    if notes:
        text += " " + " ".join(notes)
    return text


# ----------------------------------------------------------------------------------------------------------------
# The sync


def sync_group(group_id: int, actor_id: int | None, client: chat.ChatClient | None = None) -> str:
    """Bring Chat to the group's desired state; return the summary also written to the history.

    Raises the Chat error when a call fails (``is_retryable`` tells whether to try again);
    what Chat confirmed before the failure is kept all the same. ``client`` is a ChatClient to reuse
    (``sync_contact_groups`` gives each thread one, with its rate and kept-alive connections); by
    default the sync makes its own from the settings.
    """
    token, interrupted = _acquire_lease(group_id)
    try:
        group = ContactGroup.objects.select_related("owner").get(pk=group_id)
        if group.state == ContactGroup.State.DELETED:
            return "Already deleted."
        if not group.delete_requested:
            group.state = ContactGroup.State.SYNCING
            group.save(update_fields=["state"])
        progress = Progress(
            base={tuple(pair) for pair in group.confirmed_conversations},
            confirmed_name=group.confirmed_name,
            group_id=group.chat_group_id,
            interrupted=interrupted,
        )
        recorder = AuditRecorder(actor_id, group.owner.user_id, group, token)
        try:
            with _client_for(recorder, client) as chat_api:
                if group.delete_requested:
                    _delete(chat_api, group, progress)
                else:
                    _reconcile(chat_api, group, progress)
        except Exception as exc:
            _save(group, progress, error=exc)
            message = f"Sync to Chat stopped: {exc}"
            if is_retryable(exc):
                message += " It will be tried again."
            log_history(actor_id, group, _partial_summary(group, progress, message))
            raise
        summary = _save(group, progress)
        log_history(actor_id, group, summary)
        return summary
    finally:
        _release_lease(group_id, token)


@contextmanager
def _client_for(recorder: AuditRecorder, client: chat.ChatClient | None):
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


def _partial_summary(group: ContactGroup, progress: Progress, message: str) -> str:
    if progress.created or progress.added or progress.removed or progress.renamed_from or progress.refused:
        return f"{message} Done before it stopped: {summarize(group, progress)}"
    return message


def _create_attempt_name(group: ContactGroup) -> str | None:
    """The name sent by the last create call for this group, if one was ever sent."""
    attempt = (
        SyncAttempt.objects.filter(group=group, operation=protocol.CREATE_CONTACT_GROUP.rsplit("/", 1)[-1])
        .order_by("-started_at", "-id")
        .values_list("group_name", flat=True)
        .first()
    )
    return attempt


def _find_remote(remote, group: ContactGroup, create_name: str | None):
    if group.chat_group_id is not None:
        return remote.group_with_id(group.chat_group_id)
    for name in (create_name, group.name):
        if name and (found := remote.group_named(name)):
            return found
    return None


def _reconcile(client, group: ContactGroup, progress: Progress) -> None:
    owner = group.owner.user_id
    desired = [
        (kind, to_account if kind == protocol.TYPE_C2C else to_group_id)
        for kind, to_account, to_group_id in group.items.order_by("id").values_list("type", "to_account", "to_group_id")
    ]
    desired_set = set(desired)
    base = set(progress.base)
    base_name = group.confirmed_name
    create_name = _create_attempt_name(group)

    # Unless an earlier sync was interrupted, a group with no GroupId and no create ever sent is not in Chat.
    if group.chat_group_id is None and create_name is None and not progress.interrupted:
        _create(client, owner, group.name, desired, progress)
        return

    remote = client.get_contact_group(owner)
    found = _find_remote(remote, group, create_name)
    if found is None:
        staff_changed = group.name != base_name or desired_set != base
        if base_name and not staff_changed:
            progress.deleted = progress.deleted_in_app = True
            return
        if base_name:
            progress.conflicts.append(
                f"Conflict: {owner} had deleted this group in the app; the staff's change wins, "
                "so it was created again."
            )
        progress.base = set()
        _create(client, owner, group.name, desired, progress)
        return

    progress.group_id = found.group_id
    remote_set = {key_of(conversation) for conversation in remote.members(found.group_id)}
    progress.base = set(remote_set)
    if not base_name:
        # Created by an earlier attempt whose answer was lost: Chat's copy is the base, and the conversations
        # in it that the mirror asks for were accepted by that lost answer.
        base, base_name = set(remote_set), found.name
        for key in desired_set & remote_set:
            progress.results[key] = (errors.OK, "")
    progress.confirmed_name = found.name

    current_name = found.name
    if group.name != found.name:
        staff_renamed = group.name != base_name
        if staff_renamed:
            if found.name != base_name:
                progress.conflicts.append(
                    f"Conflict: {owner} renamed the group to “{found.name}” in the app; the staff's name "
                    f"“{group.name}” wins."
                )
            client.rename_contact_group(owner, found.name, group.name)
            progress.renamed_from, progress.confirmed_name = found.name, group.name
            current_name = group.name
        else:
            progress.adopted_name = progress.confirmed_name = found.name

    progress.adopted_added = (remote_set - base) - desired_set
    progress.adopted_removed = (base & desired_set) - remote_set
    for key in (desired_set - base) & remote_set:
        progress.results[key] = (errors.OK, "")
    to_add = [key for key in desired if key not in base and key not in remote_set]
    to_remove = sorted((base - desired_set) & remote_set)
    _update_members(client, owner, current_name, to_add, to_remove, progress)


def _create(client, owner: str, name: str, desired: list[Key], progress: Progress) -> None:
    first = desired[: protocol.CONVERSATIONS_PER_REQUEST_MAX]
    result = client.create_contact_group(owner, name, [conversation_of(key) for key in first])
    progress.created = True
    progress.group_id = result.group_id
    progress.confirmed_name = result.group_name or name
    progress.base = set()
    for item in result.results:
        progress.take(item, protocol.OPERATION_ADD)
    rest = desired[protocol.CONVERSATIONS_PER_REQUEST_MAX :]
    _update_members(client, owner, progress.confirmed_name, rest, [], progress)


def _update_members(client, owner: str, name: str, to_add: list[Key], to_remove: list[Key],
                    progress: Progress) -> None:
    operations = ([(protocol.OPERATION_ADD, key) for key in to_add]
                  + [(protocol.OPERATION_REMOVE, key) for key in to_remove])
    for chunk in protocol.chunks(operations):
        result = client.update_contact_group(
            owner,
            name,
            add=[conversation_of(key) for op, key in chunk if op == protocol.OPERATION_ADD],
            remove=[conversation_of(key) for op, key in chunk if op == protocol.OPERATION_REMOVE],
        )
        for item in result.results:
            progress.take(item, item.operation or protocol.OPERATION_ADD)


def _delete(client, group: ContactGroup, progress: Progress) -> None:
    owner = group.owner.user_id
    create_name = _create_attempt_name(group)
    if group.chat_group_id is None and create_name is None and not progress.interrupted:
        progress.deleted = True
        return
    remote = client.get_contact_group(owner)
    found = _find_remote(remote, group, create_name)
    if found is not None:
        if group.confirmed_name and found.name != group.confirmed_name:
            progress.conflicts.append(
                f"Conflict: {owner} had renamed the group to “{found.name}” in the app; it was deleted as the "
                "staff asked."
            )
        result = client.del_contact_group(owner, found.name)
        progress.group_id = result.group_id or found.group_id
    elif group.chat_group_id is not None or create_name is not None:
        progress.conflicts.append("It was already gone from Chat.")
    progress.deleted = True


# ----------------------------------------------------------------------------------------------------------------
# Saving what Chat said


@transaction.atomic
def _save(group: ContactGroup, progress: Progress, error: BaseException | None = None) -> str:
    group = ContactGroup.objects.select_for_update().select_related("owner").get(pk=group.pk)
    now = timezone.now()
    summary = summarize(group, progress)

    if progress.adopted_removed:
        for kind, target in progress.adopted_removed:
            group.items.filter(type=kind, **_target_filter(kind, target)).delete()
    if progress.adopted_added:
        ContactItem.objects.bulk_create(
            [ContactItem(group=group, type=kind, result_code=errors.OK, result_at=now, **_target_filter(kind, target))
             for kind, target in sorted(progress.adopted_added)],
            ignore_conflicts=True,
        )
    if progress.adopted_name and not ContactGroup.objects.filter(owner=group.owner, name=progress.adopted_name).exclude(
        pk=group.pk
    ).exclude(state=ContactGroup.State.DELETED).exists():
        group.name = progress.adopted_name

    keys, codes = {}, {}
    for pk, kind, to_account, to_group_id, code in group.items.values_list(
        "pk", "type", "to_account", "to_group_id", "result_code"
    ):
        keys[pk] = (kind, to_account if kind == protocol.TYPE_C2C else to_group_id)
        codes[pk] = code
    if progress.results:
        # One UPDATE per distinct answer (usually one: every conversation accepted), not a CASE for each row.
        answered: dict[tuple[int, str], list[int]] = {}
        for pk, key in keys.items():
            answer = progress.results.get(key)
            if answer is not None:
                answered.setdefault(answer, []).append(pk)
        for (code, info), pks in answered.items():
            ContactItem.objects.filter(pk__in=pks).update(result_code=code, result_info=info, result_at=now)
            codes.update(dict.fromkeys(pks, code))

    group.confirmed_conversations = sorted([list(key) for key in progress.base])
    group.confirmed_name = progress.confirmed_name
    if progress.group_id is not None:
        group.chat_group_id = progress.group_id
    if progress.conflicts:
        group.last_conflict = " ".join(progress.conflicts)

    if error is not None:
        group.last_error_code = getattr(error, "code", None)
        group.last_error_info = str(error)
        if not is_retryable(error):
            group.state = ContactGroup.State.FAILED
        elif group.delete_requested:
            group.state = ContactGroup.State.DELETING
        else:
            group.state = ContactGroup.State.QUEUED
        group.last_sync_summary = f"Stopped: {error}"
    else:
        group.last_error_code = None
        group.last_error_info = ""
        group.last_synced_at = now
        group.last_sync_summary = summary
        if progress.deleted:
            group.state = ContactGroup.State.DELETED
        elif group.name == progress.confirmed_name and set(keys.values()) == progress.base:
            group.state = ContactGroup.State.SYNCED
        else:
            group.state = ContactGroup.State.PARTIAL
    group.refresh_counts(save=False, codes=list(codes.values()))
    if progress.adopted_name and group.name == progress.adopted_name:
        try:
            with transaction.atomic():
                group.save()
        except IntegrityError:
            # The name the user gave the group in the app is taken by another group of the mirror.
            group.name = ContactGroup.objects.values_list("name", flat=True).get(pk=group.pk)
            group.save()
    else:
        group.save()
    return summary


def _target_filter(kind: int, target: str) -> dict:
    return {"to_account": target} if kind == protocol.TYPE_C2C else {"to_group_id": target}


def give_up(group_id: int, actor_id: int | None, exc: BaseException) -> None:
    """After the last retry: mark the group failed with the last error, and say so in the history."""
    group = ContactGroup.objects.select_related("owner").filter(pk=group_id).first()
    if group is None:
        return
    group.state = ContactGroup.State.FAILED
    group.last_error_code = getattr(exc, "code", None)
    group.last_error_info = str(exc)
    group.last_sync_summary = f"Gave up after {settings.SYNC_MAX_ATTEMPTS} attempts: {exc}"
    group.save(update_fields=["state", "last_error_code", "last_error_info", "last_sync_summary", "updated_at"])
    log_history(actor_id, group, group.last_sync_summary)


def not_queued(group_id: int, actor_id: int | None, exc: BaseException) -> None:
    """The broker could not take the group's sync task: mark the group failed, saying so, and in the history."""
    group = ContactGroup.objects.select_related("owner").filter(pk=group_id).first()
    if group is None:
        return
    group.state = ContactGroup.State.FAILED
    group.last_error_code = None
    group.last_error_info = f"The sync could not be queued: {exc}"
    group.last_sync_summary = (
        f"Not synced: the task queue could not be reached ({exc}), so nothing was sent to Chat. "
        "“Sync to Chat” queues it again."
    )
    group.save(update_fields=["state", "last_error_code", "last_error_info", "last_sync_summary", "updated_at"])
    log_history(actor_id, group, group.last_sync_summary)


def sync_with_retries(group_id: int, actor_id: int | None, sleep=time.sleep,
                      client: chat.ChatClient | None = None) -> None:
    """Sync here and now, retrying retryable failures with backoff (the no-broker path); ``client`` as in sync_group."""
    for attempt in range(settings.SYNC_MAX_ATTEMPTS):
        try:
            sync_group(group_id, actor_id, client=client)
            return
        except ContactGroup.DoesNotExist:
            return
        except Exception as exc:
            if not is_retryable(exc):
                log_unexpected(group_id, exc)
                return
            if attempt + 1 == settings.SYNC_MAX_ATTEMPTS:
                give_up(group_id, actor_id, exc)
                return
            sleep(retry_delay(attempt))


def log_unexpected(group_id: int, exc: BaseException) -> None:
    """A permanent failure is stored on the group; one that is not Chat's is a bug: log its traceback."""
    if isinstance(exc, errors.ChatError):
        logger.warning("Sync of group %s failed: %s", group_id, exc)
    else:
        logger.error("Sync of group %s failed unexpectedly", group_id, exc_info=exc)


# ----------------------------------------------------------------------------------------------------------------
# Pull: Chat's state into the mirror


@dataclass
class PullReport:
    owner: str
    adopted: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{self.owner}: new from Chat: {name}" for name in self.adopted]
        out += [f"{self.owner}: {text}" for text in self.changed]
        out += [f"{self.owner}: gone from Chat: {name}" for name in self.deleted]
        out += [f"{self.owner}: skipped while another sync runs: {name}" for name in self.skipped]
        return out

    @property
    def differed(self) -> int:
        return len(self.adopted) + len(self.changed) + len(self.deleted)


def pull_owner(owner_pk: int, actor_id: int | None) -> PullReport:
    """Make the mirror of one user's groups what Chat holds now, and record every difference.

    Groups created in the app are adopted; groups Chat no longer has are marked deleted;
    names and conversations are taken from Chat. Unsynced local edits are replaced.
    """
    owner = ChatUser.objects.get(pk=owner_pk)
    report = PullReport(owner.user_id)
    recorder = AuditRecorder(actor_id, owner.user_id)
    with chat_client(on_call=recorder) as client:
        remote = client.get_contact_group(owner.user_id)
    live = ContactGroup.objects.filter(owner=owner).exclude(state=ContactGroup.State.DELETED)
    by_id = {group.chat_group_id: group for group in live if group.chat_group_id is not None}
    by_name = {group.name: group for group in live if group.chat_group_id is None}
    seen = set()
    for info in remote.groups:
        members = {key_of(conversation) for conversation in remote.members(info.group_id)}
        group = by_id.get(info.group_id) or by_name.get(info.name)
        if group is None:
            group = _adopt_group(owner, info.name, info.group_id, members)
            report.adopted.append(info.name)
            log_history(actor_id, group, f"Pulled from Chat: {owner.user_id} created this group in the app "
                                         f"(GroupId {info.group_id}, {len(members)} conversations).")
            seen.add(group.pk)
            continue
        seen.add(group.pk)
        difference = _pull_into(group, info.name, info.group_id, members)
        if difference is None:
            report.skipped.append(group.name)
        elif difference:
            report.changed.append(f"“{group.name}”: {difference}")
            log_history(actor_id, group, f"Pulled from Chat: {difference}")
        else:
            report.unchanged += 1
    for group in live:
        if group.pk in seen or (group.chat_group_id is None and not group.confirmed_name):
            continue
        group.state = ContactGroup.State.DELETED
        group.last_sync_summary = "Pulled from Chat: the group is no longer in Chat."
        group.save(update_fields=["state", "last_sync_summary", "updated_at"])
        report.deleted.append(group.name)
        log_history(actor_id, group, group.last_sync_summary)
    return report


def _adopt_group(owner: ChatUser, name: str, group_id: int, members: set[Key]) -> ContactGroup:
    now = timezone.now()
    with transaction.atomic():
        group = ContactGroup.objects.create(
            owner=owner, name=name, confirmed_name=name, chat_group_id=group_id,
            confirmed_conversations=sorted([list(key) for key in members]),
            state=ContactGroup.State.SYNCED, last_synced_at=now,
            last_sync_summary=f"Adopted from Chat (GroupId {group_id}).",
        )
        ContactItem.objects.bulk_create(
            ContactItem(group=group, type=kind, result_code=errors.OK, result_at=now, **_target_filter(kind, target))
            for kind, target in sorted(members)
        )
        group.refresh_counts()
    return group


def _pull_into(group: ContactGroup, name: str, group_id: int, members: set[Key]) -> str | None:
    """Replace the group's name and conversations with Chat's; the differences in words, or None if busy."""
    try:
        token, _ = _acquire_lease(group.pk, wait_seconds=0)
    except SyncBusy:
        return None
    try:
        now = timezone.now()
        with transaction.atomic():
            group = ContactGroup.objects.select_for_update().get(pk=group.pk)
            local = {(item.type, item.target): item for item in group.items.all()}
            added = members - set(local)
            removed = set(local) - members
            differences = []
            if group.name != name:
                differences.append(f"renamed from “{group.name}” to “{name}”")
            if added:
                differences.append(f"added {_join(added)}")
            if removed:
                differences.append(f"removed {_join(removed)}")
            if group.chat_group_id != group_id:
                differences.append(f"GroupId {group_id}")
            ContactItem.objects.filter(pk__in=[local[key].pk for key in removed]).delete()
            ContactItem.objects.bulk_create(
                ContactItem(group=group, type=kind, result_code=errors.OK, result_at=now,
                            **_target_filter(kind, target))
                for kind, target in sorted(added)
            )
            group.items.filter(pk__in=[item.pk for key, item in local.items() if key in members]).update(
                result_code=errors.OK, result_info="", result_at=now
            )
            group.name = group.confirmed_name = name
            group.chat_group_id = group_id
            group.confirmed_conversations = sorted([list(key) for key in members])
            group.state = ContactGroup.State.SYNCED
            group.last_synced_at = now
            group.last_error_code, group.last_error_info = None, ""
            text = ", ".join(differences)
            group.last_sync_summary = f"Pulled from Chat: {text or 'no difference'}."
            group.refresh_counts(save=False)
            group.save()
        return text
    finally:
        _release_lease(group.pk, token)


# ----------------------------------------------------------------------------------------------------------------
# Accounts


@dataclass
class AccountReport:
    imported: list[str] = field(default_factory=list)
    not_imported: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def import_users(user_pks, actor_id: int | None) -> AccountReport:
    """Import the users into Chat (multiaccount_import, 100 a call), then confirm with account_check."""
    users = list(ChatUser.objects.filter(pk__in=user_pks).order_by("user_id"))
    recorder = AuditRecorder(actor_id, "")
    now = timezone.now()
    refused: dict[str, str] = {}
    with chat_client(on_call=recorder) as client:
        for batch in protocol.chunks(users, protocol.ACCOUNTS_PER_IMPORT_MAX):
            try:
                for user_id in client.multiaccount_import([user.user_id for user in batch]):
                    refused[user_id] = "Chat refused to import this UserID."
            except errors.ChatError as exc:
                for user in batch:
                    refused[user.user_id] = str(exc)
    report = check_users([user.pk for user in users], actor_id, refused=refused, imported_at=now)
    return report


def check_users(user_pks, actor_id: int | None, refused: dict[str, str] | None = None,
                imported_at=None) -> AccountReport:
    """Ask Chat which of the users exist (account_check, 100 a call) and store the answer on each."""
    users = list(ChatUser.objects.filter(pk__in=user_pks).order_by("user_id"))
    refused = refused or {}
    report = AccountReport()
    recorder = AuditRecorder(actor_id, "")
    now = timezone.now()
    with chat_client(on_call=recorder) as client:
        for batch in protocol.chunks(users, protocol.ACCOUNTS_PER_CHECK_MAX):
            try:
                answers = {status.user_id: status for status in client.account_check([u.user_id for u in batch])}
            except errors.ChatError as exc:
                answers = {}
                for user in batch:
                    refused.setdefault(user.user_id, str(exc))
            for user in batch:
                status = answers.get(user.user_id)
                user.checked_at = now
                if status is not None and status.imported:
                    user.import_state = ChatUser.ImportState.IMPORTED
                    if imported_at and user.imported_at is None:
                        user.imported_at = imported_at
                    user.last_error_code, user.last_error_info = None, ""
                    report.imported.append(user.user_id)
                    message = "Checked in Chat: imported."
                elif status is not None and status.result_code == errors.OK:
                    user.import_state = (
                        ChatUser.ImportState.FAILED if user.user_id in refused else ChatUser.ImportState.NOT_IMPORTED
                    )
                    user.last_error_code = None
                    user.last_error_info = refused.get(user.user_id, "")
                    report.not_imported.append(user.user_id)
                    message = "Checked in Chat: not imported." + (f" {user.last_error_info}" if user.user_id in refused
                                                                  else "")
                else:
                    user.import_state = ChatUser.ImportState.FAILED
                    user.last_error_code = status.result_code if status else None
                    user.last_error_info = (status.result_info if status else "") or refused.get(user.user_id, "")
                    report.failed.append(user.user_id)
                    message = f"Check in Chat failed: {user.last_error_info}"
                user.save(update_fields=["import_state", "imported_at", "checked_at", "last_error_code",
                                         "last_error_info", "updated_at"])
                log_history(actor_id, user, message)
    return report
