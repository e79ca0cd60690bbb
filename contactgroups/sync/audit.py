"""The audit of Chat calls and the admin history: one SyncAttempt per HTTP attempt, one LogEntry per outcome.

Both are written as each thing happens, outside any transaction of the sync, so they survive whatever the sync
does next. History messages are data (a JSON list, as Django's own change messages are); contactgroups.words
makes them into sentences when they are shown.
"""

import json
import logging

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from contactgroups.chat import errors
from contactgroups.chat.protocol import escaped
from contactgroups.chat.record import CallRecord
from contactgroups.models import ContactGroup, SyncAttempt, SyncAttemptRefusal
from contactgroups.models.health import count_calls
from contactgroups.sync import reach

logger = logging.getLogger(__name__)


def _outcome(record: CallRecord) -> str:
    if isinstance(record.error, errors.ChatTooSlowError):
        return SyncAttempt.Outcome.TOO_SLOW
    if isinstance(record.error, errors.ChatAnswerTooLargeError):
        return SyncAttempt.Outcome.TOO_LARGE
    if isinstance(record.error, errors.ChatAnswerError) and record.response is not None:
        return SyncAttempt.Outcome.UNREADABLE
    if isinstance(record.error, errors.ChatConnectError):
        return SyncAttempt.Outcome.NOT_SENT
    if record.error is not None:
        return SyncAttempt.Outcome.NO_ANSWER if record.error_code is None else SyncAttempt.Outcome.REFUSED
    if record.refused_items:
        return SyncAttempt.Outcome.PARTIAL
    return SyncAttempt.Outcome.OK


class AuditRecorder:
    """The client's ``on_call`` hook: one SyncAttempt row per HTTP attempt, saved at once."""

    def __init__(self, actor_id: int | None, owner_user_id: str, group: ContactGroup | None = None,
                 page_read: bool = False):
        self.actor_id = actor_id
        self.owner_user_id = owner_user_id
        self.group = group
        self.page_read = page_read  # a read made while a staff page waited: the audit hides those unless asked
        self.calls = 0

    def attempt_of(self, record: CallRecord) -> SyncAttempt:
        """The SyncAttempt row of ``record``, not saved."""
        return SyncAttempt(
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
            page_read=self.page_read,
        )

    def __call__(self, record: CallRecord) -> None:
        self.calls += 1
        attempt = self.attempt_of(record)
        attempt.save(force_insert=True)
        if codes := record.refused_codes:
            SyncAttemptRefusal.objects.bulk_create(SyncAttemptRefusal(attempt=attempt, code=code) for code in codes)
        count_calls([(attempt, codes)])
        reach.noted(attempt.outcome != SyncAttempt.Outcome.NOT_SENT)


class BufferedAuditRecorder(AuditRecorder):
    """An ``on_call`` hook that keeps the SyncAttempt rows for ``save_attempts`` to write with others at once.

    The batch path writes them in the transaction that stores the outcomes they led to, so a sync's audit and its
    outcome are kept, or lost, together; the create intent, written before the call, covers a loss.
    """

    def __init__(self, actor_id: int | None, owner_user_id: str, group: ContactGroup | None = None):
        super().__init__(actor_id, owner_user_id, group)
        self.attempts: list[tuple[SyncAttempt, tuple[int, ...]]] = []

    def __call__(self, record: CallRecord) -> None:
        self.calls += 1
        attempt = self.attempt_of(record)
        self.attempts.append((attempt, tuple(record.refused_codes)))
        reach.noted(attempt.outcome != SyncAttempt.Outcome.NOT_SENT)


def save_attempts(attempts: list[tuple[SyncAttempt, tuple[int, ...]]]) -> None:
    """Write kept SyncAttempt rows and their refusal codes: one INSERT for the rows, one for the codes.

    Their counts a minute are added once the transaction commits, so the rows every batch adds to are locked for
    one statement, not until the end of a batch's save.
    """
    if not attempts:
        return
    rows = SyncAttempt.objects.bulk_create([attempt for attempt, _codes in attempts])
    refusals = [SyncAttemptRefusal(attempt=row, code=code)
                for row, (_attempt, codes) in zip(rows, attempts, strict=True) for code in codes]
    if refusals:
        SyncAttemptRefusal.objects.bulk_create(refusals)
    transaction.on_commit(lambda: count_calls(attempts), robust=True)


def history_entry(actor_id: int, obj, message: list[dict], action_flag: int = CHANGE) -> LogEntry:
    """The admin history entry of ``obj`` (not saved); ``message`` is data, not words."""
    return LogEntry(
        user_id=actor_id,
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        action_flag=action_flag,
        change_message=json.dumps(escaped(message), ensure_ascii=False),
    )


def log_history(actor_id: int | None, obj, message: list[dict], action_flag: int = CHANGE) -> None:
    """An admin history entry for ``obj`` under the staff user who caused it; ``message`` is data, not words."""
    if actor_id is None:
        logger.info("%s: %s", obj, json.dumps(message, ensure_ascii=False))
        return
    history_entry(actor_id, obj, message, action_flag).save(force_insert=True)


def log_staff_action(actor_id: int | None, group: ContactGroup, message: list[dict],
                     action_flag: int = CHANGE) -> LogEntry | None:
    """The history entry of a staff action on ``group`` that its next sync carries out: saved, and named on the group
    (``last_staff_action``), so the syncs' own entries name it and the history page shows them under it."""
    if actor_id is None:
        log_history(None, group, message, action_flag)
        return None
    entry = history_entry(actor_id, group, message, action_flag)
    entry.save(force_insert=True)
    record_staff_action(group, entry)
    return entry


def log_staff_actions(actor_id: int | None, groups: list[ContactGroup], edit: dict) -> None:
    """One staff action (``edit``, the same for each) on many groups, as ``log_staff_action`` logs it on one: one
    INSERT of the entries, one UPDATE naming each on its group."""
    messages = [[{"edit": {**edit, "name": group.name}}] for group in groups]
    if actor_id is None:
        log_histories(None, list(zip(groups, messages, strict=True)))
        return
    entries = LogEntry.objects.bulk_create(
        [history_entry(actor_id, group, message) for group, message in zip(groups, messages, strict=True)])
    for group, entry in zip(groups, entries, strict=True):
        group.last_staff_action = entry.pk
    ContactGroup.objects.bulk_update(groups, ["last_staff_action"])


def record_staff_action(group: ContactGroup, entry: LogEntry) -> None:
    """Name ``entry`` (saved) on ``group`` as its last staff action."""
    group.last_staff_action = entry.pk
    ContactGroup.objects.filter(pk=group.pk).update(last_staff_action=entry.pk)


def log_histories(actor_id: int | None, entries: list[tuple[object, list[dict]]]) -> None:
    """Many history entries, ``(obj, message)`` each, under one staff user: one INSERT."""
    if actor_id is None:
        for obj, message in entries:
            log_history(None, obj, message)
        return
    LogEntry.objects.bulk_create([history_entry(actor_id, obj, message) for obj, message in entries])


def last_actors(group_pks: list[int]) -> dict[int, int]:
    """The staff user of each group's latest history entry: whom a sync taken up again after a restart acts for."""
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(ContactGroup), object_id__in=[str(pk) for pk in group_pks],
    ).order_by("action_time", "pk").values_list("object_id", "user_id")
    return {int(object_id): user_id for object_id, user_id in entries}
