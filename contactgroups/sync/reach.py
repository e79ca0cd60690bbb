"""Whether Chat answers: the audit notes each call, and Chat answering again after a call here could not reach it
is told to whoever listens (``contactgroups.tasks`` hands the groups waiting on that failure over again).

Process-wide and cheap: a flag under a lock, no query. A process that never saw Chat unreachable tells nobody; the
recovery task (``tasks.requeue_stranded``, every SYNC_RECOVER_SECONDS) reads in the audit that a call of some process
has reached Chat since the last that could not, and hands the waiting groups over then.
"""

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_unreached = False
_listeners: list[Callable[[], None]] = []


def when_answered_again(listener: Callable[[], None]) -> None:
    """Call ``listener()`` each time Chat answers a call after a call of this process could not reach it."""
    _listeners.append(listener)


def noted(reached: bool) -> None:
    """A call of this process reached Chat (it answered, whatever it said), or could not."""
    global _unreached
    with _lock:
        if not reached:
            _unreached = True
            return
        if not _unreached:
            return
        _unreached = False
    for listener in _listeners:
        try:
            listener()
        except Exception:  # telling must never fail the call that answered
            logger.exception("Could not act on Chat answering again")
