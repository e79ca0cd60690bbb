"""get_list one page at a time: the cursor Chat answers with, pinned conversations first, and the cursor as text."""

import pytest

from contactgroups.chat import errors, protocol
from contactgroups.chat.client import ChatClient
from contactgroups.chat.conversation_list import ListCursor
from contactgroups.chat.types import Conversation
from tests.chat.test_client import client_calls, import_accounts, sandbox_config

OWNER = "user_0001"


@pytest.fixture
def sandbox(make_sandbox):
    """A sandbox with a page of 2, and Alice's list: four group conversations, one of them pinned."""
    server = make_sandbox(page_size=2)
    import_accounts(server, OWNER)
    server.seed_conversations(OWNER, [
        {"Type": protocol.TYPE_GROUP, "GroupId": f"@TGS#{number}", "MsgTime": 1_700_000_000 + number,
         **({"TopFlag": 1} if number == 0 else {})}
        for number in range(4)
    ])
    return server


@pytest.fixture
def client(sandbox):
    with ChatClient(sandbox_config(sandbox)) as chat:
        yield chat


def targets(page) -> list[tuple[str, bool]]:
    return [(entry.conversation.target, entry.pinned) for entry in page.conversations]


def test_each_page_gives_the_cursor_of_the_next_and_the_last_none(client, sandbox):
    first = client.get_list_page(OWNER)
    second = client.get_list_page(OWNER, first.next_cursor)

    assert targets(first) == [("@TGS#0", True), ("@TGS#3", False)]
    assert first.next_cursor == ListCursor(time_stamp=0, start_index=1, top_time_stamp=0, top_start_index=1)
    assert targets(second) == [("@TGS#2", False), ("@TGS#1", False)]
    assert second.next_cursor is None
    bodies = [call["body"] for call in client_calls(sandbox, protocol.GET_LIST)]
    assert bodies == [
        {"From_Account": OWNER, "TimeStamp": 0, "StartIndex": 0, "TopTimeStamp": 0, "TopStartIndex": 0,
         "AssistFlags": protocol.GET_LIST_ASSIST_FLAGS},
        {"From_Account": OWNER, "TimeStamp": 0, "StartIndex": 1, "TopTimeStamp": 0, "TopStartIndex": 1,
         "AssistFlags": protocol.GET_LIST_ASSIST_FLAGS},
    ]


def test_the_whole_list_is_the_pages_in_order(client):
    listed = client.get_list(OWNER)
    assert [entry.conversation for entry in listed] == [
        Conversation.group(f"@TGS#{number}") for number in (0, 3, 2, 1)]


def test_paging_that_does_not_advance_is_an_error(client, monkeypatch):
    real = client._transport.call

    def stuck(endpoint, body, *args):
        answer = real(endpoint, body, *args)
        return {**answer, "CompleteFlag": 0, **{name: body[name] for name in protocol.GET_LIST_PAGING_FIELDS}}

    monkeypatch.setattr(client._transport, "call", stuck)
    with pytest.raises(errors.ChatError, match="did not advance"):
        client.get_list_page(OWNER)


def test_the_cursor_as_text_comes_back_as_it_was():
    cursor = ListCursor(1_700_000_000, 50, 1_600_000_000, 3)
    assert cursor.token() == "1700000000.50.1600000000.3"
    assert ListCursor.from_token(cursor.token()) == cursor
    assert ListCursor().token() == "0.0.0.0"


@pytest.mark.parametrize("token", ["", "1.2.3", "1.2.3.4.5", "a.b.c.d", "1.2.3.-4", "1.2. 3.4", "１.2.3.4",
                                   "1" * 21 + ".0.0.0"])
def test_text_that_is_no_cursor_is_refused(token):
    with pytest.raises(ValueError):
        ListCursor.from_token(token)


@pytest.mark.parametrize("top_flag", [2, -1, "1", True, None])
def test_the_sandbox_refuses_a_seeded_top_flag_other_than_0_or_1(sandbox, top_flag):
    with pytest.raises(ValueError, match="TopFlag must be 0 or 1"):
        sandbox.seed_conversations(OWNER, [{"Type": protocol.TYPE_GROUP, "GroupId": "@TGS#x", "MsgTime": 1,
                                            "TopFlag": top_flag}])


def test_seeding_a_pinned_conversation_again_unpinned_unpins_it(client, sandbox):
    sandbox.seed_conversations(OWNER, [{"Type": protocol.TYPE_GROUP, "GroupId": "@TGS#0", "MsgTime": 1}])
    assert [(entry.conversation.target, entry.pinned) for entry in client.get_list(OWNER)][-1] == ("@TGS#0", False)


def test_a_pinned_conversation_stays_pinned_across_a_restart(make_sandbox, tmp_path):
    state = tmp_path / "state.json"
    first = make_sandbox(state_path=state)
    first.seed_conversations(OWNER, [{"Type": protocol.TYPE_GROUP, "GroupId": "@TGS#p", "MsgTime": 5, "TopFlag": 1}])
    first.stop()
    second = make_sandbox(state_path=state)
    import_accounts(second, OWNER)
    with ChatClient(sandbox_config(second)) as chat:
        assert [(entry.conversation.target, entry.pinned) for entry in chat.get_list(OWNER)] == [("@TGS#p", True)]
