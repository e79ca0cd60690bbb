"""ErrorDisplay: Chat's sample answers of create, delete, get_list and search_contact_group carry it (an empty string)
next to ErrorInfo (get_list: https://cloud.tencent.com/document/product/269/62118; search_contact_group:
https://trtc.io/zh/document/53442); the sandbox answers as the samples do and the client reads those answers,
whatever ErrorDisplay holds."""

import pytest

from contactgroups.chat import errors, protocol
from contactgroups.chat.client import ChatClient
from contactgroups.chat.types import Conversation
from tests.chat.test_client import offline_client, sandbox_config
from tests.chat.test_sandbox import GET_LIST, import_accounts

OWNER = "user_0001"
LIST_BODY = {"From_Account": OWNER, "TimeStamp": 0, "StartIndex": 0, "TopTimeStamp": 0, "TopStartIndex": 0,
             "AssistFlags": protocol.GET_LIST_ASSIST_FLAGS}
SEARCH_BODY = {"From_Account": OWNER, "ContactItem": [{"Type": protocol.TYPE_C2C, "To_Account": "user_0002"}]}


@pytest.fixture
def alice(sandbox):
    import_accounts(sandbox, OWNER, "user_0002")
    sandbox.seed_conversations(OWNER, [{"Type": protocol.TYPE_C2C, "To_Account": "user_0002",
                                        "MsgTime": 1_700_000_000}])
    return sandbox


@pytest.mark.parametrize(("endpoint", "body"), [(GET_LIST, LIST_BODY), (protocol.SEARCH_CONTACT_GROUP, SEARCH_BODY)])
def test_get_list_and_search_answer_with_an_empty_error_display_as_their_samples(alice, endpoint, body):
    answer = alice.post(endpoint, body, actor="client")
    refused = alice.post(endpoint, {**body, "From_Account": "user_0404"}, actor="client")

    assert (answer["ErrorCode"], answer["ErrorInfo"], answer["ErrorDisplay"]) == (errors.OK, "", "")
    assert (refused["ErrorCode"], refused["ErrorDisplay"]) == (errors.ACCOUNT_NOT_IMPORTED, "")


def test_get_contact_group_answers_without_it_as_its_sample(alice):
    answer = alice.post(protocol.GET_CONTACT_GROUP, {"From_Account": OWNER, "StartIndex": 0}, actor="client")

    assert answer["ErrorCode"] == errors.OK and "ErrorDisplay" not in answer


def test_the_client_reads_the_sandboxs_answers_that_carry_it(alice):
    with ChatClient(sandbox_config(alice)) as client:
        listed = client.get_list(OWNER)
        found = client.search_contact_group(OWNER, [Conversation.c2c("user_0002")])

    assert [entry.conversation for entry in listed] == [Conversation.c2c("user_0002")]
    assert found.groups == []


def test_the_client_reads_an_answer_whose_error_display_has_text():
    client, adapter = offline_client()
    adapter.answer = {"SessionItem": [{"Type": 1, "To_Account": "user_0002", "MsgTime": 1_700_000_000, "TopFlag": 0}],
                      "CompleteFlag": 1, "TimeStamp": 0, "StartIndex": 0, "TopTimeStamp": 0, "TopStartIndex": 0,
                      "ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", "ErrorDisplay": "shown on the client"}

    assert [entry.conversation for entry in client.get_list(OWNER)] == [Conversation.c2c("user_0002")]

    adapter.answer = {"ActionStatus": "FAIL", "ErrorCode": errors.ACCOUNT_NOT_IMPORTED, "ErrorInfo": "not imported",
                      "ErrorDisplay": "shown on the client"}
    with pytest.raises(errors.ChatAccountNotImportedError) as refused:
        client.get_list(OWNER)
    assert refused.value.code == errors.ACCOUNT_NOT_IMPORTED and refused.value.info == "not imported"
