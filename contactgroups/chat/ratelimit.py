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
fill the window to the rate, and a Chat that counts them after its own stall sees one too many. A caller woken
more than ``LATE_SECONDS`` after its moment therefore takes a new one (its first stays counted) instead of going
out with the calls after it, so a stall leaves a gap, not a burst. Paced calls are also held to ``WINDOW_SHARE``
of the rate in any second (``window_item``: 195 of Chat's 200), which costs nothing in steady use (the spacing
keeps them at 95%) and leaves Chat's count five calls of room.

**One step a call.** A call takes its moment in one atomic step: the later of now, the endpoint's next free moment
and the moment the oldest of the window's last calls leaves it; that moment goes into the window and the next free
moment moves one interval past it; the caller sleeps until then. The counts live in a store named by URI:
``memory://`` counts within this process (every client of the process built with that URI shares one count, by
the monotonic clock); ``redis://``, ``rediss://`` or ``unix://`` share them across processes and machines, which is
what several Celery workers calling one app need. There the step is one Lua script, one round trip to Redis a call,
on Redis's clock so workers on several machines agree. If Redis cannot be reached the limiter lets the call
through and logs a warning: Chat's own throttling answers, which the client retries after a longer backoff, still
keep the pace, and an unreachable Redis does not stop every call to Chat.

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
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis

logger = logging.getLogger(__name__)

NAMESPACE = "imadmin-chat"

# Calls are spaced evenly at this share of the rate (see the module docstring).
PACING_SHARE = 0.95

# Paced calls are held to this share of the rate in any one-second window (see the module docstring).
WINDOW_SHARE = 0.975

# The URI schemes of a store: this process's memory, or a Redis.
REDIS_SCHEMES = ("redis", "rediss", "unix")
STORE_SCHEMES = ("memory", *REDIS_SCHEMES)

# A Redis that stops answering holds a call this long at most before it goes through uncounted.
REDIS_TIMEOUT = 2.0

# A caller woken this much after its moment takes a new one (see the module docstring), at most RETAKES times: a
# retaken moment stays counted, so a call costs its endpoint at most RETAKES + 1 places on a machine that wakes
# every caller late.
LATE_SECONDS = 0.025
RETAKES = 1


@dataclass(frozen=True)
class Window:
    """At most ``amount`` calls in any ``expiry`` seconds."""

    amount: int
    expiry: int


def rate_item(calls_per_second: float) -> Window:
    """The window allowing ``calls_per_second`` (a whole number of calls in a whole number of seconds).

    A rate of at least one is rounded down to whole calls a second; a slower rate becomes one call every
    ``ceil(1 / rate)`` seconds, so the limiter never allows more than asked.
    """
    if not calls_per_second > 0:
        raise ValueError(f"A rate limit must be a positive number of calls a second, not {calls_per_second!r}.")
    if calls_per_second >= 1:
        return Window(int(calls_per_second), 1)
    return Window(1, math.ceil(1 / calls_per_second))


def window_item(calls_per_second: float, paced: bool = True) -> Window:
    """The window a limiter keeps for ``calls_per_second``: ``rate_item``'s, held to ``WINDOW_SHARE`` of it
    (rounded up, so a slow rate keeps every call) when the calls are also paced."""
    window = rate_item(calls_per_second)
    if paced and calls_per_second >= 1:
        return Window(math.ceil(window.amount * WINDOW_SHARE), 1)
    return window


@dataclass(frozen=True)
class _Step:
    """What one call asks of a store: its keys, its window, its spacing (0: none) and, for a background call, the
    places it may take in the window (0: a staff call, which takes any); ``poll`` is how long a background call
    waits for room before it asks again (the endpoint's pacing interval)."""

    pace_key: str
    window_key: str
    background_key: str
    window: Window
    interval: float
    room: int
    poll: float


class StoreUnreachable(Exception):
    """The store of the counts did not answer."""


class _MemoryStore:
    """The counts in this process: each key's next free moment and the moments of its window's last calls."""

    def __init__(self):
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}
        self._calls: dict[str, deque] = {}

    def take(self, step: _Step) -> float | None:
        """Take the call's moment; seconds until it, or None when a background call finds no room."""
        with self._lock:
            now = time.monotonic()
            since = now - step.window.expiry
            calls = self._window(step.window_key, step.window.amount)
            if step.room:
                own = self._window(step.background_key, step.room)
                if _holds(calls, step.room, since) or _holds(own, step.room, since):
                    return None
            moment = now
            if step.interval:
                moment = max(moment, self._next.get(step.pace_key, 0.0))
            if len(calls) == step.window.amount:
                moment = max(moment, calls[0] + step.window.expiry)
            if step.interval:
                self._next[step.pace_key] = moment + step.interval
            calls.append(moment)
            if step.room:
                own.append(moment)
            return moment - now

    def _window(self, key: str, amount: int) -> deque:
        calls = self._calls.get(key)  # a key names its window's amount: one key, one length
        if calls is None:
            calls = self._calls[key] = deque(maxlen=amount)
        return calls


def _holds(calls: deque, count: int, since: float) -> bool:
    """Whether ``calls`` (oldest first) has ``count`` calls after ``since``."""
    return len(calls) >= count and calls[-count] > since


# _MemoryStore.take's step on Redis's clock; the windows are lists of moments, the newest first.
_TAKE_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local interval, amount = tonumber(ARGV[1]), tonumber(ARGV[2])
local expiry, room = tonumber(ARGV[3]), tonumber(ARGV[4])
local function holds(key, count)
    local nth = tonumber(redis.call('LINDEX', key, count - 1))
    return nth ~= nil and nth > now - expiry
end
if room > 0 and (holds(KEYS[2], room) or holds(KEYS[3], room)) then
    return '-1'
end
local moment = now
if interval > 0 then
    local free = tonumber(redis.call('GET', KEYS[1]) or '0')
    if free > moment then moment = free end
end
local oldest = tonumber(redis.call('LINDEX', KEYS[2], amount - 1))
if oldest ~= nil and oldest + expiry > moment then moment = oldest + expiry end
local stamp = string.format('%.6f', moment)
local keep = math.ceil((moment - now + expiry + interval) * 1000) + 1000
if interval > 0 then
    redis.call('SET', KEYS[1], string.format('%.6f', moment + interval), 'PX', keep)
end
local function push(key, count)
    redis.call('LPUSH', key, stamp)
    redis.call('LTRIM', key, 0, count - 1)
    redis.call('PEXPIRE', key, keep)
end
push(KEYS[2], amount)
if room > 0 then push(KEYS[3], room) end
return string.format('%.6f', moment - now)
"""


class _RedisStore:
    """The counts in Redis, shared by every process that uses it: one script call a call to Chat."""

    def __init__(self, uri: str):
        client = redis.Redis.from_url(uri, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT)
        self._script = client.register_script(_TAKE_SCRIPT)

    def take(self, step: _Step) -> float | None:
        args = [f"{step.interval:.6f}", step.window.amount, step.window.expiry, step.room]
        try:
            delay = float(self._script(keys=[step.pace_key, step.window_key, step.background_key], args=args))
        except redis.RedisError as exc:
            raise StoreUnreachable(exc) from exc
        return None if delay < 0 else delay


_stores: dict[str, _MemoryStore | _RedisStore] = {}
_stores_lock = threading.Lock()


def shared_store(uri: str) -> _MemoryStore | _RedisStore:
    """The one store of this process for ``uri``, made on first use."""
    with _stores_lock:
        store = _stores.get(uri)
        if store is None:
            scheme = urlsplit(uri).scheme
            if scheme == "memory":
                store = _MemoryStore()
            elif scheme in REDIS_SCHEMES:
                store = _RedisStore(uri)
            else:
                raise ValueError(f"A rate limit store is memory:// or a Redis URL, not a {scheme or 'bare'} URI.")
            _stores[uri] = store
        return store


def _forget_after_fork() -> None:
    """A forked process counts on its own: the parent's lock and connections are not its own."""
    global _stores_lock
    _stores.clear()
    _stores_lock = threading.Lock()


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
        self.share = share
        self._default_rate = default_rate
        self._rates = dict(rates or {})
        self._pace = pace
        self._store = shared_store(storage_uri)
        self._sleep = sleep
        self._steps: dict[str, _Step] = {}

    def item_for(self, endpoint: str) -> Window:
        return window_item(self._rates.get(endpoint, self._default_rate), self._pace)

    def wait(self, endpoint: str) -> float:
        """Take one call's place in ``endpoint``'s window, sleeping until there is one. Returns seconds slept."""
        step = self._steps.get(endpoint) or self._steps.setdefault(endpoint, self._step(endpoint))
        slept = 0.0
        for _ in range(1 + RETAKES):
            try:
                while (delay := self._store.take(step)) is None:
                    self._sleep(step.poll)
                    slept += step.poll
            except StoreUnreachable as exc:
                logger.warning("Rate limit storage unreachable (%s); calling %s without waiting.", exc, endpoint)
                return slept
            if delay <= 0:
                break
            moment = time.monotonic() + delay
            self._sleep(delay)
            slept += delay
            if time.monotonic() - moment <= LATE_SECONDS:
                break
        return slept

    def _step(self, endpoint: str) -> _Step:
        window = self.item_for(endpoint)
        interval = 1 / (self._rates.get(endpoint, self._default_rate) * PACING_SHARE)
        room = max(1, math.floor(window.amount * self.share)) if self.share < 1 else 0
        # One hash tag for an endpoint's keys, so a Redis cluster keeps them on one node for the script.
        prefix = f"{NAMESPACE}/{{{self.sdkappid}/{endpoint}}}"
        window_key = f"{prefix}/window/{window.amount}/{window.expiry}"
        return _Step(
            pace_key=f"{prefix}/pace",
            window_key=window_key,
            background_key=f"{window_key}/background/{room}",
            window=window,
            interval=interval if self._pace else 0.0,
            room=room,
            poll=interval,
        )

    def __repr__(self) -> str:
        return f"EndpointRateLimiter(sdkappid={self.sdkappid}, default={self.item_for('')})"
