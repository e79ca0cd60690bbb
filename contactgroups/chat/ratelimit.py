"""Keep calls under Chat's documented frequency, per SDKAppID and endpoint.

Chat allows a number of calls a second for each REST endpoint of an app (``protocol.CALLS_PER_SECOND``, lower for
multiaccount_import and account_check) and answers 60007/60011 beyond it. The limiter
blocks the caller until the call fits in a moving one-second window, so the client never meets that refusal
because of its own pace.

Calls are also spaced evenly, ``1 / (rate * PACING_SHARE)`` seconds apart (a caller waits for the next free
moment). Chat counts a call when it arrives: a client that sends a second's worth of calls in a burst, and the
next burst as soon as the first leaves its own window, is seen by Chat with 201 calls in one second whenever the
network delays the first burst a millisecond more than the second. Spaced at 95% of the rate, 201 consecutive
calls span 1.05 s, so Chat's count stays under its limit unless arrival times jitter by more than 50 ms. This
gives up 5% of the allowed rate; a lone call never waits.

A busy machine wakes a caller late: calls reserved on time but sent together after a stall of more than 50 ms
fill the window to the rate, and a Chat that counts them after its own stall sees one too many. Paced calls are
therefore also held to ``WINDOW_SHARE`` of the rate in any second (``window_item``: 195 of Chat's 200), which
costs nothing in steady use (the spacing keeps them at 95%) and leaves Chat's count five calls of room.

The window and the spacing live in a ``limits`` storage named by URI. ``memory://`` counts within this process
(every client of the process built with that URI shares one count); ``redis://host:port/db`` shares the count
across processes and machines, which is what several Celery workers calling one app need (the spacing goes by
Redis's clock). If the storage cannot be reached the limiter lets the call through and logs a warning: Chat's own
throttling answers, which the client retries after a longer backoff, still keep the pace, and an unreachable
Redis does not stop every call to Chat.

**Background calls leave room for staff.** A limiter built with ``share`` below 1 (the drift sweep's) takes a
call only while the endpoint's window, which counts every caller's calls (staff syncs and page reads included),
holds fewer than ``share`` of the endpoint's rate, and its own window (``share`` of the rate, shared by every
background caller) has a place; otherwise it waits, polling at the pacing interval, and then takes its place like
any other call. Staff calls wait for nothing but the rate itself, so they go first: with
``share`` 0.8 at Chat's 200 calls a second the sweep fills at most 160 of each second and staff always find 40
free at once, and when staff use 150 a second the sweep falls to the 10 left under its share.
"""

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

logger = logging.getLogger(__name__)

NAMESPACE = "imadmin-chat"

# Calls are spaced evenly at this share of the rate (see the module docstring).
PACING_SHARE = 0.95

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


# Paced calls are held to this share of the rate in any one-second window (see the module docstring).
WINDOW_SHARE = 0.975


def window_item(calls_per_second: float, paced: bool = True) -> RateLimitItem:
    """The window a limiter keeps for ``calls_per_second``: ``rate_item``'s, held to ``WINDOW_SHARE`` of it
    (rounded up, so a slow rate keeps every call) when the calls are also paced."""
    item = rate_item(calls_per_second)
    if paced and calls_per_second >= 1:
        return RateLimitItemPerSecond(math.ceil(item.amount * WINDOW_SHARE), 1, namespace=NAMESPACE)
    return item


class _MemoryPacer:
    """The next free moment of each endpoint, in this process."""

    def __init__(self):
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, key: str, interval: float) -> float:
        """Take the next free moment of ``key``; seconds to wait for it."""
        with self._lock:
            now = time.monotonic()
            moment = max(self._next.get(key, 0.0), now)
            self._next[key] = moment + interval
            return moment - now


# Takes the next free moment of KEYS[1] by Redis's own clock, so workers on several machines agree.
_RESERVE_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local moment = tonumber(redis.call('GET', KEYS[1]) or '0')
if moment < now then moment = now end
local after = moment + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.6f', after), 'PX', math.ceil((after - now) * 1000) + 1000)
return string.format('%.6f', moment - now)
"""


class _RedisPacer:
    """The next free moment of each endpoint, in Redis, shared by every process that uses it."""

    def __init__(self, storage):
        self._script = storage.get_connection().register_script(_RESERVE_SCRIPT)

    def reserve(self, key: str, interval: float) -> float:
        try:
            return float(self._script(keys=[key], args=[f"{interval:.6f}"]))
        except Exception as exc:  # redis raises its own errors; any of them means the storage is unreachable
            raise StorageError(exc) from exc


_pacers: dict[str, object] = {}


def shared_pacer(uri: str):
    """The one pacer of this process for ``uri``: in memory, or in the Redis the URI names."""
    with _storages_lock:
        pacer = _pacers.get(uri)
    if pacer is None:
        storage = shared_storage(uri)
        pacer = _RedisPacer(storage) if urlsplit(uri).scheme.startswith("redis") else _MemoryPacer()
        with _storages_lock:
            pacer = _pacers.setdefault(uri, pacer)
    return pacer


class _ForkShared:
    """The spacing and the moving window of each endpoint of one app, in memory this process shares with the
    processes it forks afterwards: together they call Chat as one process would.

    Each endpoint has its next free moment and a ring of the moments of its last ``amount`` calls (a call fits
    when the oldest of them left the window); the system's monotonic clock is the same in every process.
    """

    def __init__(self, sdkappid: int, rates: dict[str, float]):
        import multiprocessing

        context = multiprocessing.get_context("fork")
        self.sdkappid = int(sdkappid)
        self._endpoints: dict[str, tuple[int, int, int, float, float]] = {}
        offset = 0
        for slot, (endpoint, rate) in enumerate(sorted(rates.items())):
            item = window_item(rate)
            self._endpoints[endpoint] = (slot, offset, item.amount, item.get_expiry(), 1 / (rate * PACING_SHARE))
            offset += item.amount
        self._lock = context.Lock()
        self._next = context.Array("d", max(len(rates), 1), lock=False)
        self._cursor = context.Array("i", max(len(rates), 1), lock=False)
        # 0.0: a call long ago (monotonic time starts at boot).
        self._ring = context.Array("d", max(offset, 1), lock=False)

    def covers(self, sdkappid: int, endpoint: str, item: RateLimitItem, interval: float) -> bool:
        known = self._endpoints.get(endpoint)
        return (int(sdkappid) == self.sdkappid and known is not None
                and known[2:] == (item.amount, item.get_expiry(), interval))

    def wait(self, endpoint: str, sleep: Callable[[float], None], pace: bool) -> float:
        """Take the endpoint's next free moment (if pacing) and a place in its window, sleeping for both."""
        slot, offset, amount, expiry, interval = self._endpoints[endpoint]
        slept = 0.0
        if pace:
            with self._lock:
                now = time.monotonic()
                moment = max(self._next[slot], now)
                self._next[slot] = moment + interval
            if moment > now:
                sleep(moment - now)
                slept += moment - now
        while True:
            with self._lock:
                now = time.monotonic()
                cursor = self._cursor[slot]
                oldest = self._ring[offset + cursor]
                if oldest <= now - expiry:
                    self._ring[offset + cursor] = now
                    self._cursor[slot] = (cursor + 1) % amount
                    return slept
            delay = max(oldest + expiry - now, 0.001)
            sleep(delay)
            slept += delay


_fork_shared: dict[str, _ForkShared] = {}


def share_with_forks(uri: str, sdkappid: int, rates: dict[str, float]) -> None:
    """Count and space the calls to app ``sdkappid`` of this process and of those it forks from now on as one
    process's, for a ``memory://`` URI; ``rates`` are each endpoint's calls a second. A Redis URI is shared
    already and is left alone.
    """
    if urlsplit(uri).scheme.startswith("redis"):
        return
    with _storages_lock:
        _fork_shared[uri] = _ForkShared(sdkappid, rates)


def _forget_after_fork() -> None:
    """A forked process makes its own storages and pacers: the parent's locks, timers and connections are not its
    own (what ``share_with_forks`` made is meant to be shared, and kept)."""
    global _storages_lock
    _storages.clear()
    _pacers.clear()
    _storages_lock = threading.Lock()


def _pace_key(sdkappid: int, endpoint: str) -> str:
    return f"{NAMESPACE}/pace/{sdkappid}/{endpoint}"


os.register_at_fork(after_in_child=_forget_after_fork)


class EndpointRateLimiter:
    """Blocks until a call to an endpoint of one app fits under that endpoint's rate, spaced evenly.

    ``rates`` maps an endpoint to its calls a second; endpoints not in it get ``default_rate``. ``pace=False``
    keeps only the window, which lets a whole second's worth of calls through at once. ``share`` below 1 makes a
    background limiter: it waits while the window (every caller's calls) holds ``share`` of the rate or more.
    """

    def __init__(
        self,
        sdkappid: int,
        storage_uri: str,
        default_rate: float,
        rates: dict[str, float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        pace: bool = True,
        share: float = 1.0,
    ):
        if not 0 < share <= 1:
            raise ValueError(f"A limiter's share of the rate must be above 0 and at most 1, not {share!r}.")
        self.sdkappid = int(sdkappid)
        self.storage_uri = storage_uri
        self._default_item = window_item(default_rate, pace)
        self._items = {endpoint: window_item(rate, pace) for endpoint, rate in (rates or {}).items()}
        self._default_interval = 1 / (default_rate * PACING_SHARE)
        self._intervals = {endpoint: 1 / (rate * PACING_SHARE) for endpoint, rate in (rates or {}).items()}
        self._limiter = MovingWindowRateLimiter(shared_storage(storage_uri))
        self._pacer = shared_pacer(storage_uri) if pace else None
        self._sleep = sleep
        self.share = share

    def item_for(self, endpoint: str) -> RateLimitItem:
        return self._items.get(endpoint, self._default_item)

    def wait(self, endpoint: str) -> float:
        """Take one call's place in ``endpoint``'s window, sleeping until there is one. Returns seconds slept."""
        item = self.item_for(endpoint)
        key = (str(self.sdkappid), endpoint)
        interval = self._intervals.get(endpoint, self._default_interval)
        shared = _fork_shared.get(self.storage_uri)
        if shared is not None and shared.covers(self.sdkappid, endpoint, item, interval):
            return shared.wait(endpoint, self._sleep, self._pacer is not None)
        slept = 0.0
        try:
            if self._pacer is not None:
                delay = self._pacer.reserve(_pace_key(self.sdkappid, endpoint), interval)
                if delay > 0:
                    self._sleep(delay)
                    slept += delay
            if self.share < 1:
                slept += self._wait_for_room(endpoint, item, key)
            while not self._limiter.hit(item, *key):
                stats = self._limiter.get_window_stats(item, *key)
                # The oldest call in the window leaves it at reset_time; a small floor keeps the loop from spinning.
                delay = min(max(stats.reset_time - time.time(), 0.001), item.get_expiry())
                self._sleep(delay)
                slept += delay
        except StorageError as exc:
            logger.warning("Rate limit storage unreachable (%s); calling %s without waiting.", exc, endpoint)
        return slept

    def _wait_for_room(self, endpoint: str, item: RateLimitItem, key: tuple[str, str]) -> float:
        """A background call's wait: until the window (every caller's calls) holds fewer than ``share`` of the rate,
        and the background's own window (``share`` of the rate, counted atomically, so background callers racing
        each other never pass it together) has a place."""
        room = max(1, math.floor(item.amount * self.share))
        own = RateLimitItemPerSecond(room, item.multiples, namespace=NAMESPACE)
        poll = self._intervals.get(endpoint, self._default_interval)
        slept = 0.0
        while (item.amount - self._limiter.get_window_stats(item, *key).remaining >= room
               or not self._limiter.hit(own, *key, "background")):
            self._sleep(poll)
            slept += poll
        return slept

    def __repr__(self) -> str:
        return f"EndpointRateLimiter(sdkappid={self.sdkappid}, default={self._default_item})"
