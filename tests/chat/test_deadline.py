"""A Chat call ends by its deadline, status line, headers and whole answer included, and reads no more than the size
limit.

Over loopback HTTP against the sandbox, whose faults drip an answer's headers or body a few bytes a second or pad it
to megabytes.
Each bound on a call's time is many times its deadline, and the unbounded read many times that bound, so a slow
machine cannot make a test fail, nor a broken deadline pass.
"""

import json
import pickle
import time

import pytest
import requests

from contactgroups.chat import errors
from contactgroups.chat.client import ChatClient
from contactgroups.chat.config import MAX_ANSWER_BYTES, ChatConfig
from contactgroups.chat.protocol import ACCOUNT_CHECK, CREATE_CONTACT_GROUP, GET_CONTACT_GROUP, GET_LIST
from tests.chat.test_client import OWNER, client_calls, group_chats, import_accounts, sandbox_config

DEADLINE = 0.4
# A call bounded by DEADLINE returns well within this; a dripped answer takes many times longer.
BOUND = 10 * DEADLINE
DRIP_BYTES_PER_SECOND = 4


# The status line and headers of a sandbox answer are at least this long (the status line and Server, Content-Type
# and Content-Length headers).
HEAD_BYTES_LEAST = 80
HEAD_DRIP_BYTES_PER_SECOND = 5  # a byte every 0.2 s, each wait well within DEADLINE
# How long the sandbox takes at least to drip an answer's status line and headers.
HEAD_DRIP_SECONDS = HEAD_BYTES_LEAST / HEAD_DRIP_BYTES_PER_SECOND


def dripped_seconds(sandbox, endpoint: str) -> float:
    """How long the sandbox would take to drip its last answer to ``endpoint`` whole."""
    answer = client_calls(sandbox, endpoint)[-1]["response"]
    return len(json.dumps(answer, ensure_ascii=False).encode()) / DRIP_BYTES_PER_SECOND


@pytest.fixture
def records():
    return []


def make_client(sandbox, records, **fields) -> ChatClient:
    import_accounts(sandbox, OWNER)
    return ChatClient(sandbox_config(sandbox, **fields), on_call=records.append)


def timed(call):
    began = time.monotonic()
    with pytest.raises(errors.ChatError) as caught:
        call()
    return caught.value, time.monotonic() - began


# --------------------------------------------------------------------------------------------------------- too slow


def test_an_answer_dripped_a_byte_at_a_time_ends_at_the_calls_deadline(sandbox, records):
    client = make_client(sandbox, records, deadline=DEADLINE, max_retries=0)
    sandbox.set_faults(drip_bytes_per_second=DRIP_BYTES_PER_SECOND, endpoints=[GET_CONTACT_GROUP])

    error, elapsed = timed(lambda: client.get_contact_group(OWNER))

    assert isinstance(error, errors.ChatTooSlowError)
    assert error.seconds == DEADLINE
    assert "deadline of 0.4 s" in str(error)
    assert elapsed < BOUND < dripped_seconds(sandbox, GET_CONTACT_GROUP) / 3
    (record,) = records
    assert (record.http_status, record.response, record.error) == (200, None, error)


def test_headers_dripped_a_byte_at_a_time_end_at_the_calls_deadline(sandbox, records):
    client = make_client(sandbox, records, deadline=DEADLINE, read_timeout=60, max_retries=0)
    sandbox.set_faults(drip_headers_bytes_per_second=HEAD_DRIP_BYTES_PER_SECOND, endpoints=[GET_CONTACT_GROUP])

    error, elapsed = timed(lambda: client.get_contact_group(OWNER))

    assert isinstance(error, errors.ChatTooSlowError)
    assert (error.seconds, error.http_status) == (DEADLINE, None)
    assert "may have taken effect" in str(error)
    assert elapsed < BOUND < HEAD_DRIP_SECONDS / 3
    (record,) = records
    assert (record.http_status, record.response, record.error) == (None, None, error)
    assert len(client_calls(sandbox, GET_CONTACT_GROUP)) == 1


def test_a_block_holds_for_dripped_headers_and_the_client_works_after(sandbox, records):
    client = make_client(sandbox, records, read_timeout=60, max_retries=3)
    sandbox.set_faults(drip_headers_bytes_per_second=HEAD_DRIP_BYTES_PER_SECOND, endpoints=[GET_LIST])

    with client.within(DEADLINE):
        error, elapsed = timed(lambda: client.get_list_page(OWNER))

    assert isinstance(error, errors.ChatTooSlowError)
    assert elapsed < BOUND
    assert len(client_calls(sandbox, GET_LIST)) == 1  # no retry could end before the block's deadline
    sandbox.clear_faults()
    assert client.get_list_page(OWNER).conversations == []  # the cut connection was not used again


def test_a_workers_read_of_dripped_headers_is_tried_again_with_its_own_deadline(sandbox, records):
    client = make_client(sandbox, records, deadline=DEADLINE, read_timeout=60, max_retries=1)
    sandbox.set_faults(drip_headers_bytes_per_second=HEAD_DRIP_BYTES_PER_SECOND, endpoints=[ACCOUNT_CHECK])

    error, elapsed = timed(lambda: client.account_check([OWNER]))

    assert isinstance(error, errors.ChatTooSlowError)
    assert [type(record.error) for record in records] == [errors.ChatTooSlowError] * 2
    assert elapsed < 2 * BOUND < 2 * HEAD_DRIP_SECONDS / 3


def test_calls_within_their_deadline_keep_one_connection_alive(sandbox, records):
    client = make_client(sandbox, records, deadline=DEADLINE)

    for _ in range(5):
        assert client.get_contact_group(OWNER).groups == []

    pools = client._transport._session.get_adapter(sandbox.base_url).poolmanager.pools
    assert [(pools[key].num_connections, pools[key].num_requests) for key in pools.keys()] == [(1, 5)]


def test_a_workers_read_is_tried_again_each_attempt_with_its_own_deadline(sandbox, records):
    client = make_client(sandbox, records, deadline=DEADLINE, max_retries=1)
    sandbox.set_faults(drip_bytes_per_second=DRIP_BYTES_PER_SECOND, endpoints=[ACCOUNT_CHECK])

    error, elapsed = timed(lambda: client.account_check([OWNER]))

    assert isinstance(error, errors.ChatTooSlowError)
    assert [type(record.error) for record in records] == [errors.ChatTooSlowError] * 2
    assert elapsed < 2 * BOUND < dripped_seconds(sandbox, ACCOUNT_CHECK) / 3


def test_a_write_whose_answer_drips_is_not_sent_again(sandbox, records):
    client = make_client(sandbox, records, deadline=DEADLINE, max_retries=3)
    sandbox.set_faults(drip_bytes_per_second=DRIP_BYTES_PER_SECOND, endpoints=[CREATE_CONTACT_GROUP])

    with pytest.raises(errors.ChatTooSlowError, match="may have taken effect"):
        client.create_contact_group(OWNER, "Family")

    assert len(client_calls(sandbox, CREATE_CONTACT_GROUP)) == 1


def test_one_deadline_holds_for_every_page_and_retry_of_a_block(make_sandbox, records):
    sandbox = make_sandbox(page_size=1)
    client = make_client(sandbox, records, max_retries=3)
    client.create_contact_group(OWNER, "Family", group_chats(12))
    records.clear()
    sandbox.set_faults(latency_ms=300, endpoints=[GET_CONTACT_GROUP])  # 12 pages: 3.6 s read whole

    with client.within(DEADLINE * 2):
        error, elapsed = timed(lambda: client.get_contact_group(OWNER))

    assert isinstance(error, errors.ChatTooSlowError)
    assert error.seconds == DEADLINE * 2
    assert elapsed < BOUND - 1
    assert len(records) <= 3  # a page or two, and no retry begun after the deadline
    assert len(client_calls(sandbox, GET_CONTACT_GROUP)) == len(records)


def test_a_block_whose_deadline_has_passed_sends_nothing(sandbox, records):
    client = make_client(sandbox, records)

    with client.within(0.001):
        time.sleep(0.01)
        with pytest.raises(errors.ChatTooSlowError, match="was not sent"):
            client.get_list_page(OWNER)

    assert (records, client_calls(sandbox, GET_LIST)) == ([], [])


def test_a_call_after_the_block_has_its_own_deadline_again(sandbox, records):
    client = make_client(sandbox, records)
    with client.within(0.001):
        time.sleep(0.01)

    assert client.get_contact_group(OWNER).groups == []


@pytest.mark.parametrize("seconds", [0, -1])
def test_a_block_needs_a_positive_deadline(sandbox, records, seconds):
    client = make_client(sandbox, records)

    with pytest.raises(ValueError, match="positive"), client.within(seconds):
        pass


# -------------------------------------------------------------------------------------------------------- too large


def test_an_answer_longer_than_the_limit_is_refused_unread_and_not_asked_again(sandbox, records):
    client = make_client(sandbox, records, max_retries=3)
    sandbox.set_faults(pad_bytes=16 * 1024 * 1024, endpoints=[GET_LIST])

    with pytest.raises(errors.ChatAnswerTooLargeError) as caught:
        client.get_list_page(OWNER)

    assert caught.value.limit == MAX_ANSWER_BYTES
    assert not caught.value.retryable
    assert len(client_calls(sandbox, GET_LIST)) == 1
    (record,) = records
    assert (record.http_status, record.response) == (200, None)


def test_the_limit_is_the_configured_one_and_an_answer_within_it_is_read(sandbox, records):
    client = make_client(sandbox, records, max_answer_bytes=4096)
    sandbox.set_faults(pad_bytes=2000, endpoints=[GET_LIST])

    assert client.get_list_page(OWNER).conversations == []

    sandbox.set_faults(pad_bytes=5000)
    with pytest.raises(errors.ChatAnswerTooLargeError, match="longer than 4096 bytes"):
        client.get_list_page(OWNER)
    sandbox.clear_faults()
    assert client.get_list_page(OWNER).conversations == []  # the cut connection was not used again


@pytest.mark.parametrize("fields", [{"deadline": 0}, {"max_answer_bytes": 0}, {"max_answer_bytes": 1.5}])
def test_the_config_refuses_a_deadline_or_limit_that_is_not_positive(fields):
    with pytest.raises(ValueError, match="deadline|max_answer_bytes"):
        ChatConfig(1400000000, "key", "administrator", region="singapore", **fields)


@pytest.mark.parametrize("error", [
    errors.ChatTooSlowError("slow", endpoint=GET_LIST, seconds=1.5),
    errors.ChatAnswerTooLargeError("long", endpoint=GET_LIST, limit=4096),
])
def test_the_errors_keep_their_deadline_and_limit_across_processes(error):
    copy = pickle.loads(pickle.dumps(error))

    assert (type(copy), str(copy), copy.endpoint) == (type(error), str(error), GET_LIST)
    assert (getattr(copy, "seconds", None), getattr(copy, "limit", None)) == (
        getattr(error, "seconds", None), getattr(error, "limit", None))


# ---------------------------------------------------------------------------------------------- the sandbox's faults


def test_the_sandbox_drips_an_answer_set_by_its_control_endpoint(sandbox):
    sandbox.import_accounts(OWNER)
    faults = requests.post(f"{sandbox.base_url}/__sandbox__/faults",
                           json={"drip_bytes_per_second": 400, "endpoints": [GET_CONTACT_GROUP]}, timeout=5).json()
    began = time.monotonic()

    answer = requests.post(sandbox.signed_url(GET_CONTACT_GROUP), json={"From_Account": OWNER, "StartIndex": 0},
                           timeout=30)

    assert faults["drip_bytes_per_second"] == 400
    assert answer.json()["ErrorCode"] == 0
    assert time.monotonic() - began >= len(answer.content) / 400 * 0.9


def test_the_sandbox_pads_an_answer_with_white_space_and_sends_no_length(sandbox):
    sandbox.import_accounts(OWNER)
    sandbox.set_faults(pad_bytes=100_000)

    answer = requests.post(sandbox.signed_url(GET_CONTACT_GROUP), json={"From_Account": OWNER, "StartIndex": 0},
                           timeout=30)

    assert "Content-Length" not in answer.headers
    assert answer.json()["ErrorCode"] == 0
    assert len(answer.content) == len(answer.content.rstrip(b" ")) + 100_000


def test_the_sandbox_drips_an_answers_headers_set_by_its_control_endpoint(sandbox):
    sandbox.import_accounts(OWNER)
    faults = requests.post(f"{sandbox.base_url}/__sandbox__/faults",
                           json={"drip_headers_bytes_per_second": 400, "endpoints": [GET_CONTACT_GROUP]},
                           timeout=5).json()
    began = time.monotonic()

    answer = requests.post(sandbox.signed_url(GET_CONTACT_GROUP), json={"From_Account": OWNER, "StartIndex": 0},
                           timeout=30)

    assert (faults["drip_headers_bytes_per_second"], faults["drip_bytes_per_second"]) == (400, 0)
    assert answer.json()["ErrorCode"] == 0
    assert time.monotonic() - began >= HEAD_BYTES_LEAST / 400 * 0.9


def test_the_end_users_app_is_not_dripped_or_padded(sandbox):
    sandbox.set_faults(drip_bytes_per_second=1, drip_headers_bytes_per_second=1, pad_bytes=100_000)

    assert sandbox.import_accounts(OWNER)["ErrorCode"] == 0


@pytest.mark.parametrize("bad", [{"drip_bytes_per_second": -1}, {"drip_bytes_per_second": True},
                                 {"drip_headers_bytes_per_second": -1}, {"drip_headers_bytes_per_second": "1"},
                                 {"pad_bytes": -1}, {"pad_bytes": 0.5}, {"pad_bytes": 2**40}])
def test_the_sandbox_refuses_bad_drip_or_pad_settings(sandbox, bad):
    response = requests.post(f"{sandbox.base_url}/__sandbox__/faults", json=bad, timeout=5)

    assert response.status_code == 400
    assert next(iter(bad)) in response.json()["error"]
