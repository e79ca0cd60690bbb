"""The sandbox's rate limit holds for calls that arrive in parallel: no one-second window accepts more than the rate.

Chat's "maximum call frequency" (100 calls a second on account_check, https://trtc.io/document/34956; 200 on the
recentcontact pages) is answered past with 60007, HTTP 200 as every business error.
"""

import itertools
import threading
import time

import requests

from contactgroups.chat import errors, protocol
from contactgroups.chat.sandbox.limiter import WindowLimiter
from tests.chat.test_ratelimit import most_in_any_second
from tests.chat.test_sandbox import CHECK, call, url

THREADS = 40


class HandClock:
    """A clock the test moves; ``tick`` seconds pass at each reading when set."""

    def __init__(self, now: float = 1000.0, tick: float = 0.0):
        self.now, self.tick = now, tick
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            self.now += self.tick
            return self.now


def in_parallel(sandbox, calls_each: int, threads: int = THREADS) -> list[tuple[float, float, int]]:
    """``threads`` keep-alive connections each send ``calls_each`` account_check calls at once; every call's
    (sent, answered, ErrorCode), on the real clock."""
    outcomes = []
    lock = threading.Lock()
    start = threading.Barrier(threads)
    target = url(sandbox, CHECK)

    def client():
        with requests.Session() as session:
            session.trust_env = False
            start.wait()
            for _ in range(calls_each):
                sent = time.monotonic()
                response = session.post(target, json={"CheckItem": []}, timeout=30)
                answered = time.monotonic()
                assert response.status_code == 200
                with lock:
                    outcomes.append((sent, answered, response.json()["ErrorCode"]))

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(outcomes) == threads * calls_each
    return outcomes


def accepted_moments(sandbox) -> list[float]:
    """The clock readings the sandbox counted its accepted calls at."""
    return [entry["counted_at"] for entry in sandbox.calls_to(CHECK) if entry["error_code"] == errors.OK]


# The limiter


def test_a_call_counted_after_calls_that_arrived_later_cannot_overfill_their_window():
    """A handler thread may reach the limiter after calls that arrived after its own: the second up to its arrival
    is empty, but the window it shares with them is full."""
    limiter = WindowLimiter(HandClock(10.0))

    assert all(limiter.admit(CHECK, 3, arrived) is not None for arrived in (9.5, 9.6, 9.7))
    assert limiter.admit(CHECK, 3, 9.0) is None  # [9.0, 10.0) would hold four
    assert limiter.admit(CHECK, 3, 9.8) is None


def test_a_window_is_one_second_half_open():
    clock = HandClock(10.0)
    limiter = WindowLimiter(clock)
    assert [limiter.admit(CHECK, 2) is not None for _ in range(3)] == [True, True, False]

    clock.now = 10.999
    assert limiter.admit(CHECK, 2) is None
    clock.now = 11.0
    assert limiter.admit(CHECK, 2) == 11.0


def test_a_call_counted_long_after_it_arrived_is_counted_a_second_before_now():
    """Still between its arrival and its answer, and within the calls the limiter remembers."""
    clock = HandClock(10.0)
    limiter = WindowLimiter(clock)
    clock.now = 20.0

    assert limiter.admit(CHECK, 1, arrived=10.0) == 19.0
    assert limiter.admit(CHECK, 1, arrived=10.5) is None


def test_each_endpoint_counts_its_own_calls_and_a_rate_of_zero_counts_none():
    limiter = WindowLimiter(HandClock(10.0))
    assert limiter.admit(CHECK, 1) is not None and limiter.admit(protocol.GET_LIST, 1) is not None
    assert limiter.admit(CHECK, 1) is None
    assert all(limiter.admit(protocol.GET_CONTACT_GROUP, 0) is not None for _ in range(1000))


def test_any_order_of_arrivals_keeps_every_window_within_the_rate():
    """Every order of a set of arrival moments: whatever is accepted never puts more than the rate in a second."""
    moments = [9.1, 9.3, 9.35, 9.9, 10.0, 10.2, 10.25, 10.3, 10.95, 11.0]
    for order in itertools.islice(itertools.permutations(moments), 0, None, 997):
        limiter = WindowLimiter(HandClock(11.5))
        accepted = [moment for moment in order if limiter.admit(CHECK, 3, moment) is not None]
        assert most_in_any_second(accepted) <= 3, order


# Over HTTP, many connections at once


def test_forty_parallel_connections_get_exactly_the_rate_in_a_second_and_the_rest_60007(make_sandbox):
    clock = HandClock()
    sandbox = make_sandbox(rate_limit=protocol.ACCOUNT_BATCH_CALLS_PER_SECOND_MAX, clock=clock)

    first = [code for _sent, _answered, code in in_parallel(sandbox, calls_each=5)]
    clock.now += 0.999
    same_second = [code for _sent, _answered, code in in_parallel(sandbox, calls_each=1)]
    clock.now += 0.001
    next_second = [code for _sent, _answered, code in in_parallel(sandbox, calls_each=5)]

    assert first.count(errors.OK) == 100 and set(first) == {errors.OK, errors.RATE_LIMITED}
    assert set(same_second) == {errors.RATE_LIMITED}
    assert next_second.count(errors.OK) == 100
    refused = next(entry for entry in sandbox.calls_to(CHECK) if entry["error_code"] == errors.RATE_LIMITED)
    assert refused["http_status"] == 200 and refused["applied"] is False


def test_calls_arriving_in_parallel_over_a_moving_clock_never_overfill_a_second(make_sandbox):
    """Each reading of the clock moves it 1 ms: arrivals spread over about a second of the sandbox's clock, and the
    handler threads count them in about, not exactly, that order."""
    sandbox = make_sandbox(rate_limit=protocol.ACCOUNT_BATCH_CALLS_PER_SECOND_MAX, clock=HandClock(tick=0.001))

    codes = [code for _sent, _answered, code in in_parallel(sandbox, calls_each=10)]

    moments = accepted_moments(sandbox)
    assert len(moments) == codes.count(errors.OK) >= 100
    assert most_in_any_second(moments) <= 100


def test_no_second_of_real_time_sees_more_accepted_calls_than_the_rate(make_sandbox):
    """As a client sees it: the accepted calls sent and answered inside any one second are at most the rate."""
    sandbox = make_sandbox(rate_limit=protocol.ACCOUNT_BATCH_CALLS_PER_SECOND_MAX)

    outcomes = in_parallel(sandbox, calls_each=8)

    accepted = sorted((sent, answered) for sent, answered, code in outcomes if code == errors.OK)
    assert accepted
    inside = [sum(1 for sent, answered in accepted if start <= sent and answered < start + 1)
              for start, _answered in accepted]
    assert max(inside) <= 100
    assert most_in_any_second(accepted_moments(sandbox)) <= 100


def test_the_app_calls_are_not_counted(make_sandbox):
    sandbox = make_sandbox(rate_limit=1, clock=HandClock())
    sandbox.post(CHECK, {"CheckItem": []})

    assert call(sandbox, CHECK, {"CheckItem": []})["ErrorCode"] == errors.OK
    assert call(sandbox, CHECK, {"CheckItem": []})["ErrorCode"] == errors.RATE_LIMITED
    assert [entry["counted_at"] for entry in sandbox.calls_to(CHECK, actor=None)] == [None, 1000.0, None]
