"""ChatClient: every endpoint against the sandbox over loopback HTTP, errors, retries, limits and secrets."""

import json
import logging
import time
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from contactgroups.chat import errors, protocol
from contactgroups.chat.client import ChatClient
from contactgroups.chat.config import REGION_DOMAINS, ChatConfig
from contactgroups.chat.conversation_list import MarkUpdate
from contactgroups.chat.protocol import (
    ACCOUNT_CHECK,
    CREATE_CONTACT_GROUP,
    DEL_CONTACT_GROUP,
    DELETE_CONVERSATION,
    GET_CONTACT_GROUP,
    GET_LIST,
    MULTIACCOUNT_IMPORT,
    OPERATION_ADD,
    OPERATION_REMOVE,
    UPDATE_CONTACT_GROUP,
)
from contactgroups.chat.transport import THROTTLE_BACKOFF_FACTOR, backoff_delay
from contactgroups.chat.types import Conversation
from contactgroups.chat.usersig import decode_usersig
from tests.services import free_port

OWNER = "user_0001"
FRIEND = "user_0002"
GROUP_CHAT = Conversation.group("@TGS#1B2AUI7RZ")
BACKOFF = 0.001


def group_chats(count: int, prefix: str = "@TGS#") -> list[Conversation]:
    """Group conversations, which need no account import."""
    return [Conversation.group(f"{prefix}{number:04d}") for number in range(count)]


def import_accounts(sandbox, *user_ids: str) -> None:
    """Import accounts the way the end user's app would have, outside the client."""
    sandbox.post("im_open_login_svc/multiaccount_import", {"Accounts": list(user_ids)})


def seed_conversations(sandbox, owner: str, conversations: list[Conversation], msg_time: int = 1_700_000_000):
    """Give ``owner`` conversations with messages, which is what puts them in get_list."""
    sandbox.seed_conversations(owner, [
        {"Type": conversation.type,
         ("To_Account" if conversation.type == protocol.TYPE_C2C else "GroupId"): conversation.target,
         "MsgTime": msg_time + number}
        for number, conversation in enumerate(conversations)
    ])


def client_calls(sandbox, endpoint: str | None = None) -> list[dict]:
    return [
        call for call in sandbox.calls
        if call["actor"] == "client" and (endpoint is None or call["endpoint"] == endpoint)
    ]


def sandbox_config(sandbox, **fields) -> ChatConfig:
    fields.setdefault("backoff_base", BACKOFF)
    return ChatConfig(
        sandbox.sdkappid, sandbox.secret_key, sandbox.admin_identifier, base_url=sandbox.base_url, **fields
    )


@pytest.fixture
def records():
    return []


@pytest.fixture
def client(sandbox, records):
    import_accounts(sandbox, OWNER, FRIEND)
    with ChatClient(sandbox_config(sandbox), on_call=records.append) as chat:
        yield chat


def closed_port_client(records=None, **fields) -> ChatClient:
    """A client whose every call is refused: nothing listens on its port."""
    fields.setdefault("backoff_base", BACKOFF)
    config = ChatConfig(1400000000, "closed-port-secret-key", "administrator",
                        base_url=f"http://127.0.0.1:{free_port()}", **fields)
    return ChatClient(config, on_call=records.append if records is not None else None)


class RecordingAdapter(requests.adapters.BaseAdapter):
    """Stands in for the network: keeps each prepared request and its send options, answers ``answer``."""

    def __init__(self, answer: dict | None = None):
        super().__init__()
        self.sent = []
        self.answer = answer or {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", "ResultItem": []}

    def send(self, request, **options):
        self.sent.append((request, options))
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(self.answer).encode()
        response.headers["Content-Type"] = "application/json"
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass


def offline_client(clock=None, **fields) -> tuple[ChatClient, RecordingAdapter]:
    """A client whose requests are kept by a RecordingAdapter instead of being sent."""
    adapter = RecordingAdapter()
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    fields.setdefault("region", "singapore")
    config = ChatConfig(1400000000, "offline-secret-key", "administrator", **fields)
    options = {"clock": clock} if clock else {}
    return ChatClient(config, session=session, **options), adapter


def sent_usersig(adapter: RecordingAdapter, index: int = -1) -> str:
    return dict(parse_qsl(urlsplit(adapter.sent[index][0].url).query))["usersig"]


# ------------------------------------------------------------------------------------------------------------ groups


def test_create_contact_group_returns_the_group_id_and_a_result_per_conversation(client):
    created = client.create_contact_group(OWNER, "Family", [Conversation.c2c(FRIEND), GROUP_CHAT])

    assert (created.group_name, created.group_id) == ("Family", 1)
    assert [(result.conversation, result.ok) for result in created.results] == [
        (Conversation.c2c(FRIEND), True),
        (GROUP_CHAT, True),
    ]


def test_create_sends_chats_spelling_of_each_conversation(client, sandbox):
    client.create_contact_group(OWNER, "Family", [Conversation.c2c(FRIEND), GROUP_CHAT])

    assert client_calls(sandbox, CREATE_CONTACT_GROUP)[0]["body"] == {
        "From_Account": OWNER,
        "GroupContactItem": [
            {
                "GroupName": "Family",
                "ContactItem": [{"Type": 1, "To_Account": FRIEND}, {"Type": 2, "ToGroupId": GROUP_CHAT.target}],
            }
        ],
    }


def test_create_reports_a_refused_conversation_without_raising(client):
    created = client.create_contact_group(OWNER, "Family", [Conversation.c2c("never_imported"), GROUP_CHAT])

    refused, accepted = created.results
    assert (refused.result_code, accepted.result_code) == (errors.ACCOUNT_NOT_IMPORTED, errors.OK)
    assert created.failures == [refused]
    assert "never_imported" in refused.result_info


def test_create_without_conversations_makes_an_empty_group(client, sandbox):
    created = client.create_contact_group(OWNER, "Empty")

    assert created.results == []
    assert client.get_contact_group(OWNER).group_named("Empty").group_id == created.group_id


def test_rename_contact_group_addresses_the_group_by_its_old_name(client, sandbox):
    client.create_contact_group(OWNER, "Family", [GROUP_CHAT])

    renamed = client.rename_contact_group(OWNER, "Family", "Relatives")

    assert (renamed.old_group_name, renamed.group_name, renamed.group_id) == ("Family", "Relatives", 1)
    assert client_calls(sandbox, UPDATE_CONTACT_GROUP)[0]["body"]["UpdateGroup"] == {
        "UpdateGroupType": 1, "OldGroupName": "Family", "NewGroupName": "Relatives",
    }


def test_update_adds_and_removes_conversations_in_one_call(client):
    client.create_contact_group(OWNER, "Family", [GROUP_CHAT])

    updated = client.update_contact_group(OWNER, "Family", add=[Conversation.c2c(FRIEND)], remove=[GROUP_CHAT])

    assert [(result.operation, result.conversation, result.ok) for result in updated.results] == [
        (OPERATION_ADD, Conversation.c2c(FRIEND), True),
        (OPERATION_REMOVE, GROUP_CHAT, True),
    ]
    assert client.get_contact_group(OWNER).members(updated.group_id) == [Conversation.c2c(FRIEND)]


def test_update_sends_contact_opt_type(client, sandbox):
    client.create_contact_group(OWNER, "Family")

    client.update_contact_group(OWNER, "Family", add=[GROUP_CHAT])

    assert client_calls(sandbox, UPDATE_CONTACT_GROUP)[0]["body"]["UpdateGroup"] == {
        "UpdateGroupType": 2,
        "OldGroupName": "Family",
        "ContactUpdateItem": [{"ContactOptType": 1, "ContactItem": {"Type": 2, "ToGroupId": GROUP_CHAT.target}}],
    }


def test_del_contact_group_returns_the_deleted_group(client):
    created = client.create_contact_group(OWNER, "Family", [GROUP_CHAT])

    deleted = client.del_contact_group(OWNER, "Family")

    assert (deleted.group_name, deleted.group_id) == ("Family", created.group_id)
    assert client.get_contact_group(OWNER).groups == []


def test_get_contact_group_reads_every_page(client, sandbox):
    first = client.create_contact_group(OWNER, "First", group_chats(100, "@A#"))
    second = client.create_contact_group(OWNER, "Second", group_chats(30, "@B#"))

    groups = client.get_contact_group(OWNER)

    assert [(group.name, group.group_id) for group in groups.groups] == [("First", first.group_id),
                                                                          ("Second", second.group_id)]
    assert groups.members(first.group_id) == group_chats(100, "@A#")
    assert groups.members(second.group_id) == group_chats(30, "@B#")
    assert [call["body"]["StartIndex"] for call in client_calls(sandbox, GET_CONTACT_GROUP)] == [0, 50, 100]


def test_get_contact_group_reports_marks_and_group_ids_of_a_conversation(client):
    first = client.create_contact_group(OWNER, "First", [GROUP_CHAT])
    second = client.create_contact_group(OWNER, "Second", [GROUP_CHAT])
    client.mark_contact(OWNER, [MarkUpdate(GROUP_CHAT, set_marks=(1,), custom_mark="vip")])

    (state,) = client.get_contact_group(OWNER).conversations

    assert (state.conversation, state.group_ids) == (GROUP_CHAT, (first.group_id, second.group_id))
    assert (state.standard_mark, state.custom_mark) == ("10", "vip")


def test_search_contact_group_finds_the_groups_of_conversations(client):
    family = client.create_contact_group(OWNER, "Family", [GROUP_CHAT])
    client.create_contact_group(OWNER, "Work", group_chats(2))

    found = client.search_contact_group(OWNER, [GROUP_CHAT, Conversation.c2c(FRIEND)])

    assert [(state.conversation, state.group_ids) for state in found.conversations] == [
        (GROUP_CHAT, (family.group_id,)),
        (Conversation.c2c(FRIEND), ()),
    ]
    assert [group.name for group in found.groups] == ["Family"]


# ------------------------------------------------------------------------------------- marks, conversations, accounts


def test_mark_contact_returns_a_result_per_conversation(client):
    results = client.mark_contact(
        OWNER,
        [MarkUpdate(GROUP_CHAT, set_marks=(1, 3)), MarkUpdate(Conversation.c2c("never_imported"), custom_mark="x")],
    )

    assert [(result.operation, result.result_code) for result in results] == [
        (1, errors.OK),
        (2, errors.ACCOUNT_NOT_IMPORTED),
    ]


def test_mark_contact_sends_set_and_clear_bits_and_the_custom_mark(client, sandbox):
    client.mark_contact(OWNER, [MarkUpdate(GROUP_CHAT, set_marks=(5,), clear_marks=(1,), custom_mark="vip")])

    assert client_calls(sandbox)[0]["body"]["MarkItem"] == [
        {"OptType": 3, "ContactItem": {"Type": 2, "ToGroupId": GROUP_CHAT.target}, "SetMark": [5],
         "ClearMark": [1], "CustomMark": "vip"}
    ]


def test_get_list_reads_every_page(client, sandbox):
    seed_conversations(sandbox, OWNER, group_chats(100, "@A#") + group_chats(20, "@B#"))

    listed = client.get_list(OWNER)

    assert {entry.conversation for entry in listed} == set(group_chats(100, "@A#") + group_chats(20, "@B#"))
    assert len(client_calls(sandbox, GET_LIST)) == 3


def test_get_list_asks_for_complete_data(client, sandbox):
    client.get_list(OWNER)

    assert client_calls(sandbox, GET_LIST)[0]["body"] == {
        "From_Account": OWNER, "TimeStamp": 0, "StartIndex": 0, "TopTimeStamp": 0, "TopStartIndex": 0,
        "AssistFlags": 63,
    }


def test_get_list_reads_the_group_conversation_spelled_group_id(client, sandbox):
    seed_conversations(sandbox, OWNER, [GROUP_CHAT])
    client.create_contact_group(OWNER, "Family", [GROUP_CHAT])

    (entry,) = client.get_list(OWNER)

    assert (entry.conversation, entry.group_ids, entry.pinned) == (GROUP_CHAT, (1,), False)


def test_delete_conversation_spells_the_group_to_group_id_lowercase(client, sandbox):
    seed_conversations(sandbox, OWNER, [GROUP_CHAT])

    client.delete_conversation(OWNER, GROUP_CHAT, clear_roaming=True)

    assert client_calls(sandbox, DELETE_CONVERSATION)[0]["body"] == {
        "From_Account": OWNER, "Type": 2, "ToGroupid": GROUP_CHAT.target, "ClearRamble": 1,
    }
    assert client.get_list(OWNER) == []


def test_account_import_makes_the_account_known(client):
    client.account_import("user_new", nick="New")

    (status,) = client.account_check(["user_new"])
    assert (status.user_id, status.imported) == ("user_new", True)


def test_account_check_reports_an_account_never_imported(client):
    (status,) = client.account_check(["user_unknown"])

    assert (status.imported, status.result_code) == (False, errors.OK)


def test_multiaccount_import_sends_at_most_a_hundred_accounts_a_call(client, sandbox):
    user_ids = [f"bulk_{number}" for number in range(150)]

    failed = client.multiaccount_import(user_ids)

    assert failed == []
    assert [len(call["body"]["Accounts"]) for call in client_calls(sandbox, MULTIACCOUNT_IMPORT)] == [100, 50]
    assert all(status.imported for status in client.account_check(user_ids))


def test_account_check_sends_at_most_a_hundred_accounts_a_call(client, sandbox):
    client.account_check([f"check_{number}" for number in range(101)])

    assert [len(call["body"]["CheckItem"]) for call in client_calls(sandbox, ACCOUNT_CHECK)] == [100, 1]


# ------------------------------------------------------------------------------------------ errors Chat answers with


def test_owner_never_imported_raises_account_not_imported(client):
    with pytest.raises(errors.ChatAccountNotImportedError) as caught:
        client.create_contact_group("stranger", "Family")

    assert (caught.value.code, caught.value.endpoint) == (errors.ACCOUNT_NOT_IMPORTED, CREATE_CONTACT_GROUP)


def test_a_taken_group_name_raises_invalid_request_with_chats_text(client):
    client.create_contact_group(OWNER, "Family")

    with pytest.raises(errors.ChatInvalidRequestError) as caught:
        client.create_contact_group(OWNER, "Family")

    assert caught.value.code == errors.GROUP_NAME_TAKEN
    assert "Family" in caught.value.info


def test_updating_a_missing_group_raises_group_not_found(client):
    with pytest.raises(errors.ChatGroupNotFoundError):
        client.update_contact_group(OWNER, "Nowhere", add=[GROUP_CHAT])


def test_the_twenty_first_group_raises_a_limit_error(client):
    for number in range(protocol.GROUPS_PER_USER_MAX):
        client.create_contact_group(OWNER, f"Group {number}")

    with pytest.raises(errors.ChatLimitError) as caught:
        client.create_contact_group(OWNER, "One too many")

    assert caught.value.code == errors.TOO_MANY_GROUPS


def test_a_conversation_past_the_grouped_limit_is_refused_per_item(client):
    batches = protocol.GROUPED_CONVERSATIONS_PER_USER_MAX // protocol.CONVERSATIONS_PER_REQUEST_MAX
    for batch in range(batches):
        client.create_contact_group(OWNER, f"Batch {batch}", group_chats(100, f"@{batch}#"))

    created = client.create_contact_group(OWNER, "Overflow", [GROUP_CHAT])

    assert [result.result_code for result in created.results] == [errors.TOO_MANY_GROUPED]


def test_a_wrong_sdkappid_raises_an_auth_error(sandbox):
    config = ChatConfig(sandbox.sdkappid + 1, sandbox.secret_key, sandbox.admin_identifier, base_url=sandbox.base_url)

    with pytest.raises(errors.ChatAuthError) as caught:
        ChatClient(config).get_contact_group(OWNER)

    assert caught.value.code == errors.SDKAPPID_INVALID


def test_a_wrong_secret_key_raises_an_auth_error(sandbox):
    config = ChatConfig(sandbox.sdkappid, "not-the-key", sandbox.admin_identifier, base_url=sandbox.base_url)

    with pytest.raises(errors.ChatAuthError) as caught:
        ChatClient(config).get_contact_group(OWNER)

    # 70009, a UserSig signed with another key ("REST API 公共错误码", cloud.tencent.com/document/product/269/1671).
    assert caught.value.code == errors.USERSIG_OTHER_KEY


def test_an_identifier_that_is_not_the_administrator_raises_an_auth_error(sandbox):
    config = ChatConfig(sandbox.sdkappid, sandbox.secret_key, "not_the_admin", base_url=sandbox.base_url)

    with pytest.raises(errors.ChatAuthError) as caught:
        ChatClient(config).get_contact_group(OWNER)

    assert caught.value.code == errors.ADMIN_REQUIRED


def test_an_expired_usersig_is_renewed_and_the_call_retried_once(sandbox, records):
    import_accounts(sandbox, OWNER)
    moments = iter([1_000_000_000.0])  # a UserSig issued in 2001, long expired; then the real clock

    def clock():
        return next(moments, None) or time.time()

    client = ChatClient(sandbox_config(sandbox), clock=clock, on_call=records.append)

    client.create_contact_group(OWNER, "Family")

    assert [record.error_code for record in records] == [errors.USERSIG_EXPIRED, errors.OK]
    assert len(client.get_contact_group(OWNER).groups) == 1


def test_a_usersig_that_stays_expired_raises_after_one_renewal(sandbox, records):
    client = ChatClient(sandbox_config(sandbox), clock=lambda: 1_000_000_000.0, on_call=records.append)

    with pytest.raises(errors.ChatAuthError) as caught:
        client.get_contact_group(OWNER)

    assert caught.value.code == errors.USERSIG_EXPIRED
    assert len(records) == 2


@pytest.mark.parametrize("code", sorted(errors.TABLE))
def test_every_documented_error_code_raises_its_table_exception(sandbox, code):
    import_accounts(sandbox, OWNER)
    sandbox.set_faults(fail_rate=1.0, fail_codes=[code])
    client = ChatClient(sandbox_config(sandbox, max_retries=0))

    with pytest.raises(errors.ChatError) as caught:
        client.del_contact_group(OWNER, "Family")

    assert type(caught.value) is errors.exception_for(code)
    assert (caught.value.code, caught.value.retryable) == (code, errors.is_retryable(code))
    assert errors.describe(code) in str(caught.value)


def test_an_undocumented_error_code_is_a_failure_with_chats_text(sandbox):
    import_accounts(sandbox, OWNER)
    sandbox.set_faults(fail_rate=1.0, fail_codes=[51012])
    client = ChatClient(sandbox_config(sandbox))

    with pytest.raises(errors.ChatError) as caught:
        client.get_contact_group(OWNER)

    assert type(caught.value) is errors.ChatError
    assert (caught.value.code, caught.value.retryable) == (51012, False)
    assert "injected by the sandbox" in str(caught.value)


def test_an_error_carries_what_was_sent_and_what_came_back(client):
    with pytest.raises(errors.ChatError) as caught:
        client.del_contact_group(OWNER, "Nowhere")

    assert caught.value.request == {"From_Account": OWNER, "GroupName": ["Nowhere"]}
    assert caught.value.response["ErrorCode"] == errors.GROUP_NOT_FOUND
    assert caught.value.http_status == 200


# ------------------------------------------------------------------------------------------------- faults and retries


def test_a_read_recovers_from_internal_errors(client, sandbox, records):
    sandbox.set_faults(fail_rate=1.0, fail_codes=[errors.INTERNAL_ERROR], max_faults=2)

    assert client.get_contact_group(OWNER).groups == []
    assert [record.error_code for record in records] == [errors.INTERNAL_ERROR, errors.INTERNAL_ERROR, errors.OK]


def test_a_read_recovers_from_a_bad_gateway(client, sandbox, records):
    sandbox.set_faults(http_error_rate=1.0, max_faults=1)

    client.get_list(OWNER)

    assert [record.http_status for record in records] == [502, 200]
    assert isinstance(records[0].error, errors.ChatTransportError)


def test_a_read_recovers_from_a_dropped_connection(client, sandbox, records):
    sandbox.set_faults(drop_rate=1.0, max_faults=1)

    client.account_check([OWNER])

    assert [type(record.error) for record in records] == [errors.ChatTransportError, type(None)]


def test_a_read_recovers_from_a_timeout(make_sandbox, records):
    sandbox = make_sandbox(timeout_seconds=2)
    import_accounts(sandbox, OWNER)
    sandbox.set_faults(timeout_rate=1.0, max_faults=1)
    client = ChatClient(sandbox_config(sandbox, read_timeout=0.2), on_call=records.append)

    client.search_contact_group(OWNER, [GROUP_CHAT])

    assert "did not answer" in str(records[0].error)
    assert records[1].error is None


def test_a_read_gives_up_after_max_retries(client, sandbox, records):
    sandbox.set_faults(fail_rate=1.0, fail_codes=[errors.NETWORK_TIMEOUT])

    with pytest.raises(errors.ChatRetryableError) as caught:
        client.get_contact_group(OWNER)

    assert caught.value.code == errors.NETWORK_TIMEOUT
    assert len(records) == 1 + client.config.max_retries


def test_a_write_is_not_retried_after_an_internal_error(client, sandbox):
    sandbox.set_faults(fail_rate=1.0, fail_codes=[errors.INTERNAL_ERROR], max_faults=1)

    with pytest.raises(errors.ChatRetryableError):
        client.create_contact_group(OWNER, "Family")

    assert len(client_calls(sandbox, CREATE_CONTACT_GROUP)) == 1


def test_a_write_that_timed_out_after_chat_applied_it_is_sent_once(make_sandbox):
    sandbox = make_sandbox(timeout_seconds=2)
    import_accounts(sandbox, OWNER)
    sandbox.set_faults(timeout_rate=1.0, ambiguous=True, max_faults=1)
    client = ChatClient(sandbox_config(sandbox, read_timeout=0.2))

    with pytest.raises(errors.ChatTransportError, match="may have taken effect"):
        client.create_contact_group(OWNER, "Family")

    assert [call["applied"] for call in client_calls(sandbox, CREATE_CONTACT_GROUP)] == [True]
    assert [group.name for group in client.get_contact_group(OWNER).groups] == ["Family"]


def test_a_write_whose_answer_was_a_bad_gateway_is_sent_once(client, sandbox):
    sandbox.set_faults(http_error_rate=1.0, ambiguous=True, max_faults=1)

    with pytest.raises(errors.ChatTransportError) as caught:
        client.update_contact_group(OWNER, "Family", add=[GROUP_CHAT])

    assert caught.value.http_status == 502
    assert len(client_calls(sandbox, UPDATE_CONTACT_GROUP)) == 1


def test_a_write_whose_connection_dropped_is_sent_once(client, sandbox):
    client.create_contact_group(OWNER, "Family")
    sandbox.set_faults(drop_rate=1.0, ambiguous=True, max_faults=1)

    with pytest.raises(errors.ChatTransportError) as caught:
        client.del_contact_group(OWNER, "Family")

    assert not isinstance(caught.value, errors.ChatConnectError)
    assert len(client_calls(sandbox, DEL_CONTACT_GROUP)) == 1
    assert client.get_contact_group(OWNER).groups == []


def test_a_throttled_write_is_retried_and_applied_once(client, sandbox):
    sandbox.set_faults(fail_rate=1.0, fail_codes=[errors.RATE_LIMITED], max_faults=1)

    created = client.create_contact_group(OWNER, "Family")

    assert created.group_id == 1
    assert [call["applied"] for call in client_calls(sandbox, CREATE_CONTACT_GROUP)] == [False, True]


def test_a_throttled_call_backs_off_longer_than_an_internal_error(sandbox):
    import_accounts(sandbox, OWNER)
    waits = []
    client = ChatClient(sandbox_config(sandbox, backoff_base=0.01), sleep=waits.append)
    sandbox.set_faults(fail_rate=1.0, fail_codes=[errors.INTERNAL_ERROR], max_faults=1)
    client.get_contact_group(OWNER)
    sandbox.set_faults(fail_codes=[errors.RATE_LIMITED], max_faults=1)
    client.get_contact_group(OWNER)

    internal_error_wait, throttled_wait = waits
    assert internal_error_wait <= 0.01
    assert throttled_wait >= 0.01 * THROTTLE_BACKOFF_FACTOR / 2


def test_a_write_is_retried_when_the_connection_was_refused(records):
    client = closed_port_client(records)

    with pytest.raises(errors.ChatConnectError, match="was not sent"):
        client.create_contact_group(OWNER, "Family")

    assert len(records) == 1 + client.config.max_retries


def test_a_burst_stays_under_the_rate_limit(sandbox):
    import_accounts(sandbox, OWNER)
    rate = 10
    # Chat's own limit, plus one call of slack for loopback jitter between the client's clock and the sandbox's.
    sandbox.set_faults(rate_limit=rate + 1)
    client = ChatClient(sandbox_config(sandbox, rate_limit=rate, max_retries=0))

    for _ in range(25):
        client.get_contact_group(OWNER)

    arrivals = sorted(call["time"] for call in client_calls(sandbox, GET_CONTACT_GROUP))
    busiest = max(sum(1 for later in arrivals[index:] if later < start + 0.95) for index, start in
                  enumerate(arrivals))
    assert busiest <= rate


def test_on_call_gets_a_record_of_every_attempt(client, sandbox, records):
    sandbox.set_faults(fail_rate=1.0, fail_codes=[errors.INTERNAL_ERROR], max_faults=1)

    client.get_contact_group(OWNER)

    failed, succeeded = records
    assert (failed.endpoint, failed.request) == (GET_CONTACT_GROUP, {"From_Account": OWNER, "StartIndex": 0})
    assert (failed.action_status, failed.error_code, failed.http_status) == ("FAIL", errors.INTERNAL_ERROR, 200)
    assert failed.error.code == errors.INTERNAL_ERROR
    assert (succeeded.action_status, succeeded.error_code, succeeded.error) == ("OK", 0, None)
    assert succeeded.response["CompleteFlag"] == 1
    assert succeeded.started_at.tzinfo is not None and succeeded.duration >= 0


# ------------------------------------------------------------------------------------------- validation before sending


def test_more_than_a_hundred_conversations_are_refused_before_sending(records):
    client = closed_port_client(records)

    with pytest.raises(ValueError, match="at most 100"):
        client.create_contact_group(OWNER, "Family", group_chats(protocol.CONVERSATIONS_PER_REQUEST_MAX + 1))

    assert records == []


def test_a_group_name_over_64_bytes_is_refused_before_sending(records):
    client = closed_port_client(records)

    with pytest.raises(ValueError, match="bytes"):
        client.create_contact_group(OWNER, "家" * 22)  # 22 characters, 66 bytes

    assert records == []


def test_a_rename_to_a_name_over_64_bytes_is_refused_before_sending(records):
    client = closed_port_client(records)

    with pytest.raises(ValueError, match="bytes"):
        client.rename_contact_group(OWNER, "Family", "x" * (protocol.GROUP_NAME_MAX_BYTES + 1))

    assert records == []


def test_an_update_of_more_than_a_hundred_conversations_in_all_is_refused(records):
    client = closed_port_client(records)

    with pytest.raises(ValueError, match="at most 100"):
        client.update_contact_group(OWNER, "Family", add=group_chats(60, "@A#"), remove=group_chats(41, "@B#"))

    assert records == []


def test_a_search_of_more_than_three_hundred_conversations_is_refused(records):
    client = closed_port_client(records)

    with pytest.raises(ValueError, match="at most 300"):
        client.search_contact_group(OWNER, group_chats(protocol.CONVERSATIONS_PER_SEARCH_MAX + 1))

    assert records == []


def test_the_same_conversation_twice_in_one_request_is_refused(records):
    client = closed_port_client(records)

    with pytest.raises(ValueError, match="more than once"):
        client.update_contact_group(OWNER, "Family", add=[GROUP_CHAT], remove=[GROUP_CHAT])

    assert records == []


def test_a_userid_over_32_bytes_is_refused_before_sending(records):
    client = closed_port_client(records)

    with pytest.raises(ValueError, match="at most 32"):
        client.get_contact_group("u" * (protocol.USER_ID_MAX_BYTES + 1))

    assert records == []


def test_a_mark_bit_past_63_is_refused_before_sending(records):
    client = closed_port_client(records)

    with pytest.raises(ValueError, match="bits 0 to 63"):
        client.mark_contact(OWNER, [MarkUpdate(GROUP_CHAT, set_marks=(protocol.STANDARD_MARK_BITS,))])

    assert records == []


def test_an_existing_group_made_in_an_app_can_be_addressed_by_a_name_forms_would_refuse(client, sandbox):
    sandbox.post(CREATE_CONTACT_GROUP, {"From_Account": OWNER, "GroupContactItem": [{"GroupName": " Spaced "}]})

    deleted = client.del_contact_group(OWNER, " Spaced ")

    assert deleted.group_name == " Spaced "


# -------------------------------------------------------------------------------------------------- the request itself


@pytest.mark.parametrize("region, domain", sorted(REGION_DOMAINS.items()))
def test_each_region_calls_its_documented_domain(region, domain):
    client, adapter = offline_client(region=region)

    client.mark_contact(OWNER, [MarkUpdate(GROUP_CHAT, set_marks=(1,))])

    url = urlsplit(adapter.sent[0][0].url)
    assert (url.scheme, url.netloc, url.path) == ("https", domain, "/v4/recentcontact/mark_contact")


def test_base_url_wins_over_region():
    client, adapter = offline_client(region="china", base_url="http://127.0.0.1:8081/")

    client.account_import("user_new")

    assert adapter.sent[0][0].url.startswith("http://127.0.0.1:8081/v4/im_open_login_svc/account_import?")


def test_the_query_string_is_the_documented_one():
    client, adapter = offline_client()

    client.account_import("user_new")

    query = parse_qsl(urlsplit(adapter.sent[0][0].url).query)
    assert [name for name, _ in query] == ["sdkappid", "identifier", "usersig", "random", "contenttype"]
    values = dict(query)
    assert (values["sdkappid"], values["identifier"], values["contenttype"]) == ("1400000000", "administrator", "json")
    assert 0 <= int(values["random"]) <= 2**32 - 1


def test_each_request_has_a_fresh_random():
    client, adapter = offline_client()

    for _ in range(3):
        client.account_import("user_new")

    randoms = {dict(parse_qsl(urlsplit(request.url).query))["random"] for request, _ in adapter.sent}
    assert len(randoms) == 3


def test_every_request_has_connect_and_read_timeouts():
    client, adapter = offline_client(connect_timeout=1.5, read_timeout=4.0)

    client.account_import("user_new")

    assert adapter.sent[0][1]["timeout"] == (1.5, 4.0)


def test_the_body_is_json():
    client, adapter = offline_client()

    client.account_import("user_new", nick="Newcomer")

    request = adapter.sent[0][0]
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {"UserID": "user_new", "Nick": "Newcomer"}


def test_the_usersig_is_the_administrators_and_lasts_the_configured_time():
    client, adapter = offline_client(clock=lambda: 1_800_000_000.0, usersig_ttl=7200)

    client.account_import("user_new")

    document = decode_usersig(sent_usersig(adapter))
    assert (document["TLS.identifier"], document["TLS.sdkappid"]) == ("administrator", 1400000000)
    assert (document["TLS.time"], document["TLS.expire"]) == (1_800_000_000, 7200)


def test_the_usersig_is_reused_while_plenty_of_its_life_is_left():
    now = [1_800_000_000.0]
    client, adapter = offline_client(clock=lambda: now[0], usersig_ttl=86400)
    client.account_import("user_new")
    now[0] += 86400 * 0.85

    client.account_import("user_new")

    assert sent_usersig(adapter, 0) == sent_usersig(adapter, 1)


def test_the_usersig_is_renewed_when_a_tenth_of_its_life_is_left():
    now = [1_800_000_000.0]
    client, adapter = offline_client(clock=lambda: now[0], usersig_ttl=86400)
    client.account_import("user_new")
    now[0] += 86400 * 0.91

    client.account_import("user_new")

    assert decode_usersig(sent_usersig(adapter, 1))["TLS.time"] == int(now[0])


def test_a_short_lived_usersig_is_renewed_at_half_life():
    now = [1_800_000_000.0]
    client, adapter = offline_client(clock=lambda: now[0], usersig_ttl=600)
    client.account_import("user_new")
    now[0] += 301

    client.account_import("user_new")

    assert decode_usersig(sent_usersig(adapter, 1))["TLS.time"] == int(now[0])


# ------------------------------------------------------------------------------------------------------------ secrets


def test_config_repr_hides_the_secret_key():
    config = ChatConfig(1400000000, "very-secret-key", "administrator", region="tokyo",
                        rate_limit_storage="redis://:redis-password@127.0.0.1:6379/0")

    for text in (repr(config), str(config)):
        assert "very-secret-key" not in text
        assert "redis-password" not in text


def test_client_repr_hides_the_secret_key_and_usersig():
    client, _ = offline_client()

    assert "offline-secret-key" not in repr(client)
    assert client.admin_usersig() not in repr(client)


def test_a_connection_error_hides_the_usersig_in_its_message_and_chain():
    client = closed_port_client(max_retries=0)
    usersig = client.admin_usersig()

    with pytest.raises(errors.ChatConnectError) as caught:
        client.get_contact_group(OWNER)

    assert "usersig=<redacted>" in str(caught.value)
    chain, error = [], caught.value
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__
    for error in chain:
        for text in (str(error), repr(error), repr(error.args)):
            assert usersig not in text
            assert "closed-port-secret-key" not in text


def test_call_records_hold_neither_the_usersig_nor_the_key(client, sandbox, records):
    sandbox.set_faults(fail_rate=1.0, fail_codes=[errors.INTERNAL_ERROR], max_faults=1)

    client.get_contact_group(OWNER)

    text = repr(records)
    assert client.admin_usersig() not in text
    assert sandbox.secret_key not in text


def test_log_lines_hold_neither_the_usersig_nor_the_key(client, sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    sandbox.set_faults(fail_rate=1.0, fail_codes=[errors.INTERNAL_ERROR], max_faults=1)

    client.get_contact_group(OWNER)

    assert "recentcontact/get_contact_group" in caplog.text
    assert "usersig=<redacted>" in caplog.text  # urllib3's own request line, redacted
    assert client.admin_usersig() not in caplog.text
    assert sandbox.secret_key not in caplog.text


# ---------------------------------------------------------------------------------------------------------- the parts


def test_a_conversation_is_spelled_for_the_endpoint():
    assert GROUP_CHAT.to_json() == {"Type": 2, "ToGroupId": GROUP_CHAT.target}
    assert GROUP_CHAT.to_json("ToGroupid") == {"Type": 2, "ToGroupid": GROUP_CHAT.target}
    assert Conversation.c2c(FRIEND).to_json("ToGroupid") == {"Type": 1, "To_Account": FRIEND}


@pytest.mark.parametrize("key", ["ToGroupId", "ToGroupid", "GroupId"])
def test_a_group_conversation_is_read_in_any_of_chats_spellings(key):
    assert Conversation.from_json({"Type": 2, key: "@TGS#1"}) == Conversation.group("@TGS#1")


def test_backoff_grows_exponentially_with_full_jitter():
    class Highest:
        @staticmethod
        def uniform(low, high):
            return high

    assert [backoff_delay(attempt, 0.2, rng=Highest) for attempt in (1, 2, 3)] == [0.2, 0.4, 0.8]


def test_backoff_may_be_as_short_as_zero():
    class Lowest:
        @staticmethod
        def uniform(low, high):
            return low

    assert backoff_delay(3, 0.2, rng=Lowest) == 0


def test_backoff_is_capped():
    assert backoff_delay(30, 0.2) <= 20.0


def test_throttled_backoff_waits_at_least_half_its_longer_ceiling():
    class Lowest:
        @staticmethod
        def uniform(low, high):
            return low

    assert backoff_delay(1, 0.2, throttled=True, rng=Lowest) == pytest.approx(0.2 * THROTTLE_BACKOFF_FACTOR / 2)
