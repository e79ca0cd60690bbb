"""Keep calls under Chat's documented frequency, per SDKAppID and endpoint.

Chat allows a number of calls a second for each REST endpoint of an app (``limits.CALLS_PER_SECOND_MAX``,
``limits.ACCOUNT_CHECK_CALLS_PER_SECOND_MAX`` for account_check) and answers 60007/60011 beyond it. The limiter
blocks the caller until the call fits in a moving one-second window, so the client never meets that refusal
because of its own pace.

The window lives in a ``limits`` storage named by URI. ``memory://`` counts within this process (every client of
the process built with that URI shares one count); ``redis://host:port/db`` shares the count across processes
and machines, which is what several Celery workers calling one app need. If the storage cannot be reached the
limiter lets the call through and logs a warning: Chat's own throttling answers, which the client retries after
a longer backoff, still keep the pace, and an unreachable Redis does not stop every call to Chat.
"""

import logging
import math
import threading
import time
from collections.abc import Callable

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

logger = logging.getLogger(__name__)

NAMESPACE = "imadmin-chat"

_storages: dict[str, object] = {}
_storages_lock = threading.Lock()


def shared_storage(uri: str):
    """The one ``limits`` storage of this process for ``uri``, created on first use."""
    with _storages_lock:
        storage = _storages.get(uri)
        if storage is None:
            storage = storage_from_string(uri, wrap_exceptions=True)
            _storages[uri] = storage
        return storage


def rate_item(calls_per_second: float) -> RateLimitItem:
    """A ``limits`` item allowing ``calls_per_second`` (a whole number of calls in a whole number of seconds).

    A rate of at least one is rounded down to whole calls a second; a slower rate becomes one call every
    ``ceil(1 / rate)`` seconds, so the limiter never allows more than asked.
    """
    if not calls_per_second > 0:
        raise ValueError(f"A rate limit must be a positive number of calls a second, not {calls_per_second!r}.")
    if calls_per_second >= 1:
        return RateLimitItemPerSecond(int(calls_per_second), 1, namespace=NAMESPACE)
    return RateLimitItemPerSecond(1, math.ceil(1 / calls_per_second), namespace=NAMESPACE)


class EndpointRateLimiter:
    """Blocks until a call to an endpoint of one app fits under that endpoint's rate.

    ``rates`` maps an endpoint to its calls a second; endpoints not in it get ``default_rate``.
    """

    def __init__(
        self,
        sdkappid: int,
        storage_uri: str,
        default_rate: float,
        rates: dict[str, float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.sdkappid = int(sdkappid)
        self.storage_uri = storage_uri
        self._default_item = rate_item(default_rate)
        self._items = {endpoint: rate_item(rate) for endpoint, rate in (rates or {}).items()}
        self._limiter = MovingWindowRateLimiter(shared_storage(storage_uri))
        self._sleep = sleep

    def item_for(self, endpoint: str) -> RateLimitItem:
        return self._items.get(endpoint, self._default_item)

    def wait(self, endpoint: str) -> float:
        """Take one call's place in ``endpoint``'s window, sleeping until there is one. Returns seconds slept."""
        item = self.item_for(endpoint)
        key = (str(self.sdkappid), endpoint)
        slept = 0.0
        try:
            while not self._limiter.hit(item, *key):
                stats = self._limiter.get_window_stats(item, *key)
                # The oldest call in the window leaves it at reset_time; a small floor keeps the loop from spinning.
                delay = min(max(stats.reset_time - time.time(), 0.001), item.get_expiry())
                self._sleep(delay)
                slept += delay
        except StorageError as exc:
            logger.warning("Rate limit storage unreachable (%s); calling %s without waiting.", exc, endpoint)
        return slept

    def __repr__(self) -> str:
        return f"EndpointRateLimiter(sdkappid={self.sdkappid}, default={self._default_item})"
