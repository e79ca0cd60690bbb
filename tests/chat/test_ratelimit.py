"""The per-endpoint rate limiter: blocks until a call fits Chat's documented frequency."""

import dataclasses
import itertools
import random
import time

import pytest

from contactgroups.chat import protocol, ratelimit
from contactgroups.chat.config import ChatConfig
from contactgroups.chat.protocol import ACCOUNT_CHECK, GET_LIST
from contactgroups.chat.ratelimit import PACING_SHARE, EndpointRateLimiter, rate_item
from contactgroups.chat.transport import Transport
from tests.services import free_port

# Each test uses its own SDKAppID, so the process-wide memory storage never carries counts between tests.
_app_ids = itertools.count(1500000000)


class Waited(Exception):
    """Raised by a limiter's sleep in tests: the limiter decided to wait this long."""


def refuse_to_sleep(seconds: float) -> None:
    raise Waited(seconds)


def most_in_any_second(timestamps: list[float], window: float = 1.0) -> int:
    """The largest number of ``timestamps`` inside any half-open interval of ``window`` seconds."""
    ordered = sorted(timestamps)
    most = 0
    for index, start in enumerate(ordered):
        most = max(most, sum(1 for moment in ordered[index:] if moment < start + window))
    return most


def test_a_burst_stays_under_the_rate_of_its_endpoint():
    limiter = EndpointRateLimiter(next(_app_ids), "memory://", default_rate=20)
    taken = []

    for _ in range(30):
        limiter.wait(GET_LIST)
        taken.append(time.time())

    assert most_in_any_second(taken) <= 20


def test_calls_within_the_rate_do_not_wait_when_not_paced():
    limiter = EndpointRateLimiter(next(_app_ids), "memory://", default_rate=5, pace=False)

    assert [limiter.wait(GET_LIST) for _ in range(5)] == [0.0] * 5


def test_the_call_past_the_rate_waits_at_most_a_second():
    limiter = EndpointRateLimiter(next(_app_ids), "memory://", default_rate=2, sleep=refuse_to_sleep, pace=False)
    limiter.wait(GET_LIST)
    limiter.wait(GET_LIST)

    with pytest.raises(Waited) as waited:
        limiter.wait(GET_LIST)
    assert 0 < waited.value.args[0] <= 1


def test_calls_are_spaced_evenly_just_under_the_rate():
    waits = []
    limiter = EndpointRateLimiter(next(_app_ids), "memory://", default_rate=5, sleep=waits.append)
    for _ in range(3):
        limiter.wait(GET_LIST)

    spacing = 1 / (5 * PACING_SHARE)
    assert waits[0] == pytest.approx(spacing, abs=0.01) and waits[1] == pytest.approx(2 * spacing, abs=0.01)


class LateClock:
    """The pacer's clock, moved only by the calls' waits plus the lateness of a busy machine waking them."""

    def __init__(self, lateness):
        self.now, self.lateness = 1000.0, lateness

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds + next(self.lateness)


def test_paced_calls_never_put_more_than_the_rate_in_any_second_even_with_arrival_jitter(monkeypatch):
    """Paced at PACING_SHARE of the rate, calls keep under it in any second of their arrival at Chat, even when the
    first second's calls arrive 20 ms late and the machine wakes each call up to 30 ms late."""
    lateness = iter(random.Random(7).uniform(0, 0.03) for _ in range(1000))
    clock = LateClock(lateness)
    monkeypatch.setattr(ratelimit, "time", clock)
    limiter = EndpointRateLimiter(next(_app_ids), "memory://", default_rate=20, sleep=clock.sleep)
    interval = 1 / (20 * PACING_SHARE)
    sent = []
    for _ in range(45):
        limiter.wait(GET_LIST)
        sent.append(clock.now)

    # Chat counts arrivals: give the calls of the first second 20 ms of extra delay, the others none.
    arrivals = [moment + (0.02 if moment - sent[0] < 1 else 0.0) for moment in sent]
    assert most_in_any_second(arrivals) <= 20
    assert len(sent) == 45 and sent[-1] - sent[0] < 45 * (interval + 0.03)


def test_a_call_woken_late_takes_a_new_moment_so_the_call_after_it_is_still_spaced_from_it(monkeypatch):
    """A stall wakes the second call 100 ms after its moment, past the third's: sent then with its old moment, the
    third would go out with it."""
    clock = LateClock(iter([0.1, 0.0, 0.0]))
    monkeypatch.setattr(ratelimit, "time", clock)
    limiter = EndpointRateLimiter(next(_app_ids), "memory://", default_rate=20, sleep=clock.sleep)
    sent = []
    for _ in range(3):
        limiter.wait(GET_LIST)
        sent.append(clock.now)

    assert sent[1] - sent[0] == pytest.approx(1 / (20 * PACING_SHARE) + 0.1)
    assert sent[2] - sent[1] == pytest.approx(1 / (20 * PACING_SHARE))


def test_a_lone_call_does_not_wait():
    limiter = EndpointRateLimiter(next(_app_ids), "memory://", default_rate=1, sleep=refuse_to_sleep)

    assert limiter.wait(GET_LIST) == 0.0


def test_each_endpoint_has_its_own_window():
    limiter = EndpointRateLimiter(next(_app_ids), "memory://", default_rate=1, sleep=refuse_to_sleep)
    limiter.wait(GET_LIST)

    assert limiter.wait("recentcontact/get_contact_group") == 0.0


def test_limiters_of_one_app_share_the_window():
    app = next(_app_ids)
    EndpointRateLimiter(app, "memory://", default_rate=1).wait(GET_LIST)

    with pytest.raises(Waited):
        EndpointRateLimiter(app, "memory://", default_rate=1, sleep=refuse_to_sleep).wait(GET_LIST)


def test_limiters_of_different_apps_do_not_share_the_window():
    EndpointRateLimiter(next(_app_ids), "memory://", default_rate=1).wait(GET_LIST)

    other_app = EndpointRateLimiter(next(_app_ids), "memory://", default_rate=1, sleep=refuse_to_sleep)
    assert other_app.wait(GET_LIST) == 0.0


def test_an_endpoint_can_have_its_own_rate():
    limiter = EndpointRateLimiter(
        next(_app_ids), "memory://", default_rate=10, rates={ACCOUNT_CHECK: 1}, sleep=refuse_to_sleep
    )
    limiter.wait(ACCOUNT_CHECK)

    with pytest.raises(Waited):
        limiter.wait(ACCOUNT_CHECK)


def test_account_check_and_multiaccount_import_are_held_to_their_lower_documented_rate():
    """100 calls a second: "查询账号" (https://cloud.tencent.com/document/product/269/38417) and "导入多个账号"
    (https://cloud.tencent.com/document/product/269/4919); 200 on the recentcontact pages and account_import."""
    config = ChatConfig(1, "key", "administrator", base_url="http://127.0.0.1:1")

    assert config.rate_for(ACCOUNT_CHECK) == protocol.ACCOUNT_BATCH_CALLS_PER_SECOND_MAX
    assert config.rate_for(protocol.MULTIACCOUNT_IMPORT) == protocol.ACCOUNT_BATCH_CALLS_PER_SECOND_MAX
    assert config.rate_for(protocol.ACCOUNT_IMPORT) == protocol.CALLS_PER_SECOND_MAX
    assert config.rate_for(GET_LIST) == protocol.CALLS_PER_SECOND_MAX


def test_a_lower_configured_rate_also_holds_for_account_check():
    config = ChatConfig(1, "key", "administrator", base_url="http://127.0.0.1:1", rate_limit=20)

    assert config.rate_for(ACCOUNT_CHECK) == 20


def test_a_fractional_rate_is_never_rounded_up():
    assert (rate_item(2.5).amount, rate_item(2.5).expiry) == (2, 1)
    assert (rate_item(0.25).amount, rate_item(0.25).expiry) == (1, 4)


def test_a_rate_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        rate_item(0)


@pytest.mark.services
def test_a_redis_storage_shares_the_window_between_limiters(redis_server):
    url = redis_server.url
    app = int(time.time() * 1000) % 10**9  # fresh keys in a Redis that outlives the test run
    EndpointRateLimiter(app, url, default_rate=1).wait(GET_LIST)

    with pytest.raises(Waited):
        EndpointRateLimiter(app, url, default_rate=1, sleep=refuse_to_sleep).wait(GET_LIST)


@pytest.mark.services
def test_a_redis_storage_shares_the_spacing_between_limiters(redis_server):
    app = int(time.time() * 1000) % 10**9 + 1  # fresh keys in a Redis that outlives the test run
    EndpointRateLimiter(app, redis_server.url, default_rate=10).wait(GET_LIST)
    waits = []

    EndpointRateLimiter(app, redis_server.url, default_rate=10, sleep=waits.append).wait(GET_LIST)
    assert waits and 0.05 < waits[0] <= 1 / (10 * PACING_SHARE) + 0.01


def test_an_unreachable_storage_lets_the_call_through_with_a_warning(caplog):
    limiter = EndpointRateLimiter(next(_app_ids), f"redis://127.0.0.1:{free_port()}/0", default_rate=1)

    assert limiter.wait(GET_LIST) == 0.0
    assert "Rate limit storage unreachable" in caplog.text


def test_the_clients_limiter_caps_multiaccount_import_at_its_documented_rate():
    """"导入多个账号" (https://cloud.tencent.com/document/product/269/4919): at most 100 calls a second."""
    transport = Transport(ChatConfig(next(_app_ids), "key", "administrator", base_url="http://127.0.0.1:1"))

    # The client paces its calls, so each window keeps WINDOW_SHARE of the documented rate: 98 of 100, 195 of 200.
    assert transport._limiter.item_for(protocol.MULTIACCOUNT_IMPORT).amount == 98
    assert transport._limiter.item_for(ACCOUNT_CHECK).amount == 98
    assert transport._limiter.item_for(protocol.ACCOUNT_IMPORT).amount == 195
    assert transport._limiter.item_for(GET_LIST).amount == 195


def test_paced_calls_keep_a_margin_under_the_rate_in_any_window_and_unpaced_ones_the_whole_rate():
    assert ratelimit.window_item(200).amount == 195
    assert ratelimit.window_item(200, paced=False).amount == 200
    # A slow rate keeps every call: the margin is rounded up.
    assert ratelimit.window_item(2).amount == 2 and ratelimit.window_item(0.5).expiry == 2
    # The window alone, without the spacing: a burst of a second's calls.
    step = EndpointRateLimiter(next(_app_ids), "memory://", default_rate=40)._step(GET_LIST)
    store, burst = ratelimit._MemoryStore(), dataclasses.replace(step, interval=0.0)
    assert [store.take(burst) for _ in range(39)] == [0.0] * 39
    assert 0 < store.take(burst) <= 1


def _calls_in_a_forked_process(app_id: int, calls: int, moments) -> None:
    limiter = EndpointRateLimiter(app_id, "memory://", default_rate=5)
    for _ in range(calls):
        limiter.wait(GET_LIST)
        moments.put(time.monotonic())


def test_processes_forked_without_sharing_count_their_calls_each():
    import multiprocessing

    app_id = next(_app_ids)
    context = multiprocessing.get_context("fork")
    moments = context.Queue()
    workers = [context.Process(target=_calls_in_a_forked_process, args=(app_id, 5, moments)) for _ in range(2)]
    for worker in workers:
        worker.start()
    taken = [moments.get(timeout=30) for _ in range(10)]
    for worker in workers:
        worker.join(timeout=30)

    assert most_in_any_second(taken) > 5



# Background calls (the drift sweep's) leave room for staff --------------------------------------------------


def test_a_background_limiter_takes_only_its_share_of_the_window():
    app = next(_app_ids)
    background = EndpointRateLimiter(app, "memory://", default_rate=10, pace=False, share=0.5,
                                      sleep=refuse_to_sleep)
    assert [background.wait(GET_LIST) for _ in range(5)] == [0.0] * 5
    with pytest.raises(Waited):
        background.wait(GET_LIST)


def test_staff_calls_find_the_rest_of_the_window_free_while_the_background_waits():
    app = next(_app_ids)
    background = EndpointRateLimiter(app, "memory://", default_rate=10, pace=False, share=0.5,
                                      sleep=refuse_to_sleep)
    staff = EndpointRateLimiter(app, "memory://", default_rate=10, pace=False, sleep=refuse_to_sleep)
    for _ in range(5):
        background.wait(GET_LIST)
    assert [staff.wait(GET_LIST) for _ in range(5)] == [0.0] * 5
    with pytest.raises(Waited):
        staff.wait(GET_LIST)  # the window is full: only now does a staff call wait


def test_the_background_yields_to_staff_calls_already_in_the_window():
    app = next(_app_ids)
    staff = EndpointRateLimiter(app, "memory://", default_rate=10, pace=False)
    background = EndpointRateLimiter(app, "memory://", default_rate=10, pace=False, share=0.5,
                                      sleep=refuse_to_sleep)
    for _ in range(5):
        staff.wait(GET_LIST)
    with pytest.raises(Waited):
        background.wait(GET_LIST)


def test_a_background_limiter_waits_at_the_pacing_interval_until_there_is_room():
    app = next(_app_ids)
    staff = EndpointRateLimiter(app, "memory://", default_rate=2, pace=False)
    staff.wait(GET_LIST)
    waits = []
    background = EndpointRateLimiter(app, "memory://", default_rate=2, pace=False, share=0.5,
                                      sleep=lambda seconds: (waits.append(seconds), time.sleep(seconds)))
    background.wait(GET_LIST)
    assert waits and all(wait == pytest.approx(1 / (2 * PACING_SHARE)) for wait in waits)
    assert len(waits) <= 2  # the staff call left the one-second window within two intervals


def test_a_share_must_be_above_zero_and_at_most_one():
    for share in (0, -0.5, 1.5):
        with pytest.raises(ValueError):
            EndpointRateLimiter(next(_app_ids), "memory://", default_rate=10, share=share)


@pytest.mark.services
def test_the_background_counts_staff_calls_of_other_processes_through_redis(redis_server):
    app = int(time.time() * 1000) % 10**9 + 2  # fresh keys in a Redis that outlives the test run
    for _ in range(3):
        EndpointRateLimiter(app, redis_server.url, default_rate=6, pace=False).wait(GET_LIST)
    background = EndpointRateLimiter(app, redis_server.url, default_rate=6, pace=False, share=0.5,
                                      sleep=refuse_to_sleep)
    with pytest.raises(Waited):
        background.wait(GET_LIST)


def test_the_client_of_a_background_config_has_a_background_limiter():
    config = ChatConfig(sdkappid=next(_app_ids), secret_key="k", admin_identifier="administrator",
                        base_url="http://127.0.0.1:9", rate_share=0.8)
    assert Transport(config)._limiter.share == 0.8
    with pytest.raises(ValueError, match="rate_share"):
        ChatConfig(sdkappid=1, secret_key="k", admin_identifier="administrator", base_url="http://127.0.0.1:9",
                   rate_share=0)


def test_a_store_that_is_neither_memory_nor_redis_is_refused_without_showing_its_address():
    with pytest.raises(ValueError) as refused:
        ChatConfig(1, "key", "administrator", base_url="http://127.0.0.1:1",
                   rate_limit_storage="memcached://counter:s3cret@127.0.0.1:11211")
    assert "rate_limit_storage must be memory:// or a Redis URL" in str(refused.value)
    assert "s3cret" not in str(refused.value)
    with pytest.raises(ValueError, match="memory:// or a Redis URL"):
        EndpointRateLimiter(next(_app_ids), "memcached://127.0.0.1:11211", default_rate=1)
