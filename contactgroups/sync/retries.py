"""Trying a sync again: the one rule every caller retries by, and the marks of a sync that ends without Chat's answer.

``attempt_sync`` is one attempt of the pipeline's single strategy (``pipeline.sync_group``) and says how long to
wait before the next; the Celery tasks (``contactgroups.tasks``, on a worker or on the in-process executor) retry
by it, and ``sync_with_retries`` waits here and now. After SYNC_MAX_ATTEMPTS the group is marked failed
(``give_up``); a group whose task the broker would not take is marked so too (``not_queued``).

A retry that waits is written on the group's sync row (``schedule``: the attempts that failed, when the next is
due), so pages say it and staff can bring it forward (``retry_now``); a retry handed over for another attempt than
the one the row waits for does nothing (``pipeline.claim_one``), so a retry brought forward, or one a worker's
broker still holds after staff acted, runs once. When Chat answers again after it could not be reached
(``sync.reach``, in the process whose call could not reach it), ``due_again`` makes the groups that wait on that
failure due now, a few at a time; ``answered_since_unreached`` tells the recovery task, in any process, that a call
has reached Chat since the last that could not.
"""

import logging
import random
import time
from datetime import datetime, timedelta

from django.utils import timezone

from contactgroups.chat import errors
from contactgroups.chat.client import ChatClient
from contactgroups.conf import app_settings
from contactgroups.models import ContactGroup, GroupSync, SyncAttempt
from contactgroups.outcomes import ErrorKind, SyncCode, SyncOutcome
from contactgroups.sync.outcome import failure, queue_failure
from contactgroups.sync.pipeline import sync_group
from contactgroups.sync.store import SyncResult, is_retryable, mark_failed

logger = logging.getLogger(__name__)

# The time a retry is due from, and its jitter: tests give their own.
clock = timezone.now
jitter = random.uniform

# A retry due within this many seconds is left to come when Chat answers again (``due_again``).
DUE_SOON_SECONDS = 2.0


def retry_delay(attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): exponential, full jitter."""
    base = app_settings.SYNC_RETRY_BASE_SECONDS
    return jitter(0, min(app_settings.SYNC_RETRY_CAP_SECONDS, base * 2**attempt))


def wait_after(attempt: int) -> float | None:
    """After attempt number ``attempt`` (0-based) failed in a way that may pass: the seconds to wait before the
    next, or None when that was the last (SYNC_MAX_ATTEMPTS). The one rule of syncs and accounts alike."""
    if attempt + 1 >= app_settings.SYNC_MAX_ATTEMPTS:
        return None
    return retry_delay(attempt)


def schedule(group_pks: list[int], attempts: int, delay: float) -> datetime:
    """Write on the groups' sync rows that ``attempts`` attempts failed and the next is due in ``delay`` seconds;
    when that is."""
    due = clock() + timedelta(seconds=delay)
    GroupSync.objects.filter(group_id__in=group_pks).update(attempts=attempts, retry_at=due)
    return due


def waits(group: ContactGroup) -> bool:
    """Whether the group waits for a retry now (queued, or queued for deletion, with its next try written)."""
    confirmed = group.sync
    if confirmed.retry_at is None or not confirmed.attempts:
        return False
    if group.state == ContactGroup.State.QUEUED:
        return True
    running = confirmed.lock_until is not None and confirmed.lock_until > timezone.now()
    return group.state == ContactGroup.State.DELETING and not running


def retry_now(group_pk: int) -> int | None:
    """Make the group's waiting retry due now: the attempt number to hand over (the attempts that failed), or None
    when it waits for none."""
    attempts = (GroupSync.objects.filter(group_id=group_pk, retry_at__isnull=False, attempts__gt=0)
                .values_list("attempts", flat=True).first())
    if attempts is None:
        return None
    GroupSync.objects.filter(group_id=group_pk, attempts=attempts).update(retry_at=clock())
    return attempts


def waiting_on_unreached():
    """The sync rows of the groups whose retry waits on Chat being unreachable, and is not due soon anyway."""
    return GroupSync.objects.filter(retry_at__gt=clock() + timedelta(seconds=DUE_SOON_SECONDS),
                                    last_outcome__error__kind=str(ErrorKind.CONNECT))


def answered_since_unreached() -> bool:
    """Whether groups wait on Chat being unreachable while the audit shows a call (of any process, a page's read
    included) that reached Chat after the last call that could not. The process that saw Chat down tells its own
    listeners when its next call gets through (``sync.reach``); this is how the others learn it, from the rows
    every process writes. False when the audit no longer holds the failure (pruned): the retries' own waits stand."""
    if not waiting_on_unreached().exists():
        return False
    unreached = (SyncAttempt.objects.filter(outcome=SyncAttempt.Outcome.NOT_SENT).order_by("-started_at")
                 .values_list("started_at", flat=True).first())
    return unreached is not None and (SyncAttempt.objects.filter(started_at__gt=unreached)
                                      .exclude(outcome=SyncAttempt.Outcome.NOT_SENT).exists())


def due_again(limit: int) -> list[tuple[int, int]]:
    """Chat answered again: up to ``limit`` of the groups that wait for a retry after Chat could not be reached,
    next due first, made due now; each one's pk and attempt number to hand over. Those due within
    DUE_SOON_SECONDS, and those already made due, are left to come."""
    waiting = waiting_on_unreached()
    rows = list(waiting.order_by("retry_at").values_list("group_id", "attempts")[:limit])
    if rows:
        waiting.filter(group_id__in=[pk for pk, _ in rows]).update(retry_at=clock())
    return rows


def give_up(group_pk: int, actor_id: int | None, exc: BaseException) -> None:
    """After the last retry: mark the group failed with the last error, and say so in the history."""
    data = SyncOutcome(SyncCode.GAVE_UP, attempts=app_settings.SYNC_MAX_ATTEMPTS, error=failure(exc)).to_json()
    mark_failed(group_pk, actor_id, data, exc)


def not_queued(group_pk: int, actor_id: int | None, exc: BaseException) -> None:
    """The broker could not take the group's sync task: mark the group failed, saying so, and in the history."""
    data = SyncOutcome(SyncCode.NOT_QUEUED, error=queue_failure(exc)).to_json()
    mark_failed(group_pk, actor_id, data, None)


def after_failure(group_pk: int, actor_id: int | None, attempt: int, exc: BaseException) -> float | None:
    """What follows attempt number ``attempt`` (0-based) of a group's sync that ``exc`` stopped: the seconds to wait
    before the next attempt, or None when there is none to make (the failure is for good, logged; or that was the
    last attempt: the group is marked failed)."""
    if not is_retryable(exc):
        log_unexpected(group_pk, exc)
        return None
    delay = wait_after(attempt)
    if delay is None:
        give_up(group_pk, actor_id, exc)
        return None
    schedule([group_pk], attempt + 1, delay)
    return delay


def attempt_sync(group_pk: int, actor_id: int | None, attempt: int,
                 client: ChatClient | None = None) -> tuple[SyncResult | None, float | None]:
    """Attempt number ``attempt`` (0-based) of a group's sync: what it left on the group (None if it stopped), and
    the seconds to wait before the next attempt, or None when there is none to make (synced, refused for good,
    given up after the last attempt, or the group is gone)."""
    try:
        return sync_group(group_pk, actor_id, client=client, attempt=attempt), None
    except ContactGroup.DoesNotExist:
        return None, None
    except Exception as exc:
        return None, after_failure(group_pk, actor_id, attempt, exc)


def sync_with_retries(group_pk: int, actor_id: int | None, sleep=time.sleep,
                      client: ChatClient | None = None) -> SyncResult | None:
    """Sync here and now, waiting between retries; ``client`` as in ``pipeline.sync_group``."""
    for attempt in range(app_settings.SYNC_MAX_ATTEMPTS):
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
