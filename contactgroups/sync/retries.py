"""Trying a sync again: the one rule every caller retries by, and the marks of a sync that ends without Chat's answer.

``attempt_sync`` is one attempt of the pipeline's single strategy (``pipeline.sync_group``) and says how long to
wait before the next; the Celery tasks (``contactgroups.tasks``, on a worker or on the in-process executor) retry
by it, and ``sync_with_retries`` waits here and now. After SYNC_MAX_ATTEMPTS the group is marked failed
(``give_up``); a group whose task the broker would not take is marked so too (``not_queued``).
"""

import logging
import random
import time

from contactgroups.chat import errors
from contactgroups.chat.client import ChatClient
from contactgroups.conf import app_settings
from contactgroups.models import ContactGroup
from contactgroups.outcomes import SyncCode, SyncOutcome
from contactgroups.sync.outcome import failure, queue_failure
from contactgroups.sync.pipeline import sync_group
from contactgroups.sync.store import SyncResult, is_retryable, mark_failed

logger = logging.getLogger(__name__)


def retry_delay(attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): exponential, full jitter."""
    base = app_settings.SYNC_RETRY_BASE_SECONDS
    return random.uniform(0, min(app_settings.SYNC_RETRY_CAP_SECONDS, base * 2**attempt))


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
    if attempt + 1 >= app_settings.SYNC_MAX_ATTEMPTS:
        give_up(group_pk, actor_id, exc)
        return None
    return retry_delay(attempt)


def attempt_sync(group_pk: int, actor_id: int | None, attempt: int,
                 client: ChatClient | None = None) -> tuple[SyncResult | None, float | None]:
    """Attempt number ``attempt`` (0-based) of a group's sync: what it left on the group (None if it stopped), and
    the seconds to wait before the next attempt, or None when there is none to make (synced, refused for good,
    given up after the last attempt, or the group is gone)."""
    try:
        return sync_group(group_pk, actor_id, client=client), None
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
