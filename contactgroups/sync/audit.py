"""The audit of Chat calls and the admin history: one SyncAttempt per HTTP attempt, one LogEntry per outcome.

Both are written as each thing happens, outside any transaction of the sync, so they survive whatever the sync
does next. History messages are data (a JSON list, as Django's own change messages are); contactgroups.words
makes them into sentences when they are shown.
"""

import json
import logging

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType

from contactgroups.chat.types import CallRecord
from contactgroups.models import ContactGroup, SyncAttempt, SyncAttemptRefusal

logger = logging.getLogger(__name__)


def _outcome(record: CallRecord) -> str:
    if record.error is not None:
        return SyncAttempt.Outcome.NO_ANSWER if record.error_code is None else SyncAttempt.Outcome.REFUSED
    if record.refused_items:
        return SyncAttempt.Outcome.PARTIAL
    return SyncAttempt.Outcome.OK


class AuditRecorder:
    """The client's ``on_call`` hook: one SyncAttempt row per HTTP attempt, saved at once."""

    def __init__(self, actor_id: int | None, owner_user_id: str, group: ContactGroup | None = None):
        self.actor_id = actor_id
        self.owner_user_id = owner_user_id
        self.group = group
        self.calls = 0

    def __call__(self, record: CallRecord) -> None:
        self.calls += 1
        attempt = SyncAttempt.objects.create(
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
        if codes := record.refused_codes:
            SyncAttemptRefusal.objects.bulk_create(SyncAttemptRefusal(attempt=attempt, code=code) for code in codes)


def log_history(actor_id: int | None, obj, message: list[dict], action_flag: int = CHANGE) -> None:
    """An admin history entry for ``obj`` under the staff user who caused it; ``message`` is data, not words."""
    if actor_id is None:
        logger.info("%s: %s", obj, json.dumps(message, ensure_ascii=False))
        return
    LogEntry.objects.create(
        user_id=actor_id,
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        action_flag=action_flag,
        change_message=json.dumps(message, ensure_ascii=False),
    )


def last_actors(group_pks: list[int]) -> dict[int, int]:
    """The staff user of each group's latest history entry: whom a sync taken up again after a restart acts for."""
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(ContactGroup), object_id__in=[str(pk) for pk in group_pks],
    ).order_by("action_time", "pk").values_list("object_id", "user_id")
    return {int(object_id): user_id for object_id, user_id in entries}
