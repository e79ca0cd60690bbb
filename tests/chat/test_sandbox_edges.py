"""The sandbox at Chat's documented edges (account APIs, optional fields, limits, rates, the conversation list)."""

import time

import pytest
import requests
from django.conf import settings

from contactgroups.chat import errors, protocol
from contactgroups.chat.usersig import generate_usersig
from tests.chat.test_sandbox import (
    CHECK,
    GET_LIST,
    IMPORT,
    MARK,
    MULTI_IMPORT,
    UPDATE,
    admin_usersig,
    all_groups,
    assert_refused,
    call,
    create,
    import_accounts,
    url,
)

PAGING = {"TimeStamp": 0, "StartIndex": 0, "TopTimeStamp": 0, "TopStartIndex": 0, "AssistFlags": 63}


def state_accounts(sandbox) -> dict:
    return sandbox.snapshot()["accounts"]


# UserSig


def test_a_malformed_usersig_is_70003_and_an_expired_one_70001(sandbox):
    """Account codes of "REST API 公共错误码" (https://cloud.tencent.com/document/product/269/1671): 70003 a UserSig
    that cannot be parsed, 70001 an expired one."""
    expired = admin_usersig(expire=60, now=int(time.time()) - 3600)

    assert_refused(call(sandbox, CHECK, {"CheckItem": []}, usersig="eJ-not-a-sig"), errors.USERSIG_INVALID)
    assert_refused(call(sandbox, CHECK, {"CheckItem": []}, usersig=expired), errors.USERSIG_EXPIRED)


def test_another_sdkappid_in_the_sig_is_told_apart_from_another_key(sandbox):
    """Same table: 70014 (other SDKAppID) and 70009 (other key) are different answers."""
    other_app = generate_usersig(1400000009, settings.CHAT_SECRET_KEY, settings.CHAT_ADMIN_IDENTIFIER)
    other_key = generate_usersig(settings.CHAT_SDKAPPID, "another-key", settings.CHAT_ADMIN_IDENTIFIER)

    assert call(sandbox, CHECK, {"CheckItem": []}, usersig=other_app)["ErrorCode"] == 70014
    assert call(sandbox, CHECK, {"CheckItem": []}, usersig=other_key)["ErrorCode"] == 70009


# Accounts


def test_account_import_without_a_userid_is_70402(sandbox):
    """The account pages' error tables ("导入多个账号", https://www.tencentcloud.com/zh/document/product/1047/34954)
    give 70402 for a missing or invalid field, not the recentcontact 50002."""
    assert_refused(call(sandbox, IMPORT, {"Nick": "no id"}), errors.ACCOUNT_INVALID_PARAMETER)
    assert_refused(call(sandbox, IMPORT, {"UserID": "x" * 33}), errors.ACCOUNT_INVALID_PARAMETER)


def test_multiaccount_import_and_account_check_without_their_list_are_70402(sandbox):
    """Same table, for multiaccount_import; account_check ("查询账号",
    https://cloud.tencent.com/document/product/269/38417) takes the same public codes."""
    assert_refused(call(sandbox, MULTI_IMPORT, {}), errors.ACCOUNT_INVALID_PARAMETER)
    assert_refused(call(sandbox, CHECK, {"CheckItem": "user_0001"}), errors.ACCOUNT_INVALID_PARAMETER)
    assert_refused(call(sandbox, MULTI_IMPORT, {"Accounts": [f"u{n}" for n in range(101)]}),
                   errors.ACCOUNT_INVALID_PARAMETER)


def test_multiaccount_import_takes_the_newer_account_list_form(sandbox):
    """"导入多个账号" (https://cloud.tencent.com/document/product/269/4919) documents the newer AccountList form:
    UserID required, Nick and FaceUrl optional; the answer lists the accounts that failed."""
    answer = call(sandbox, MULTI_IMPORT, {"AccountList": [
        {"UserID": "user_0001", "Nick": "Alice", "FaceUrl": "http://example.com/a.png"},
        {"UserID": "user_0002"},
        {"UserID": "x" * 33, "Nick": "too long"},
    ]})

    assert (answer["ErrorCode"], answer["FailAccounts"]) == (0, ["x" * 33])
    assert state_accounts(sandbox)["user_0001"] == {"Nick": "Alice", "FaceUrl": "http://example.com/a.png"}
    assert "user_0002" in state_accounts(sandbox)


def test_importing_again_in_the_account_list_form_updates_nick_and_face_url(sandbox):
    """trtc.io/document/34954 ("Importing Multiple Accounts"): an account that exists takes the new parameters."""
    call(sandbox, MULTI_IMPORT, {"AccountList": [{"UserID": "user_0001", "Nick": "Old"}]})

    call(sandbox, MULTI_IMPORT, {"AccountList": [{"UserID": "user_0001", "Nick": "New", "FaceUrl": "http://f"}]})

    assert state_accounts(sandbox)["user_0001"] == {"Nick": "New", "FaceUrl": "http://f"}


# Optional fields and limits of recentcontact


def test_search_leaves_out_marks_and_groups_a_conversation_does_not_have(sandbox):
    """"查找会话分组标记" (https://trtc.io/zh/document/53442) and get_contact_group's sample: absent, not empty."""
    import_accounts(sandbox, "user_0001", "user_0002")
    call(sandbox, MARK, {"From_Account": "user_0001", "MarkItem": [
        {"OptType": 1, "ContactItem": {"Type": 1, "To_Account": "user_0002"}, "SetMark": [2]}]})

    (item,) = call(sandbox, "recentcontact/search_contact_group", {
        "From_Account": "user_0001", "ContactItem": [{"Type": 1, "To_Account": "user_0002"}]})["ContactResultItem"]

    assert item["StandardMark"] == "100"
    assert "CustomMark" not in item and "ContactGroupId" not in item


def test_an_empty_mark_item_list_is_51006(sandbox):
    """"创建/更新会话标记数据" (https://cloud.tencent.com/document/product/269/85792): MarkItem is required and
    holds 1 to 100 conversations; 51006 is the count of conversations in a request out of range."""
    import_accounts(sandbox, "user_0001")

    assert_refused(call(sandbox, MARK, {"From_Account": "user_0001", "MarkItem": []}), errors.TOO_MANY_IN_REQUEST)


def test_an_update_without_contact_update_item_changes_nothing_and_succeeds(sandbox):
    """"更新会话分组数据" (https://trtc.io/document/53439, 2026 revision): ContactUpdateItem is optional."""
    import_accounts(sandbox, "user_0001", "user_0002")
    create(sandbox, "user_0001", "a", [(1, "user_0002")])

    answer = call(sandbox, UPDATE, {"From_Account": "user_0001", "UpdateType": 1, "UpdateGroup": {
        "UpdateGroupType": 2, "OldGroupName": "a"}})

    assert answer["ErrorCode"] == 0
    assert answer["UpdateGroupResult"]["ContactResultItem"] == []
    assert all_groups(sandbox, "user_0001")["items"][0]["ContactGroupId"] == [1]


# Rates


def frozen_clock():
    """A clock for the sandbox's rate limit that stands still, so every call falls in one rate window however slow
    the machine."""
    now = time.monotonic()
    return lambda: now


def test_multiaccount_import_is_limited_at_100_calls_a_second_and_account_import_at_200(make_sandbox):
    """"导入多个账号" (https://cloud.tencent.com/document/product/269/4919): 100 calls a second; "导入单个账号"
    (https://trtc.io/document/34953): 200. With rate_limit 200 (Chat's own), each endpoint keeps its own."""
    sandbox = make_sandbox(rate_limit=protocol.CALLS_PER_SECOND_MAX, clock=frozen_clock())
    assert sandbox.set_faults()["rate_limit"] == protocol.CALLS_PER_SECOND_MAX
    with requests.Session() as session:
        def codes(endpoint, body, count):
            return [session.post(url(sandbox, endpoint), json=body, timeout=5).json()["ErrorCode"]
                    for _ in range(count)]

        multi = codes(MULTI_IMPORT, {"Accounts": ["user_0001"]}, 101)
        single = codes(IMPORT, {"UserID": "user_0001"}, 201)

    assert multi[:100] == [0] * 100 and multi[100] == errors.RATE_LIMITED
    assert single[:200] == [0] * 200 and single[200] == errors.RATE_LIMITED


# The conversation list


def test_grouping_or_marking_a_conversation_does_not_put_it_in_get_list(sandbox):
    """"拉取会话列表" (https://cloud.tencent.com/document/product/269/62118) lists conversations, which come from
    messages; conversation groups and marks are kept apart from it (the recentcontact group pages, e.g.
    https://cloud.tencent.com/document/product/269/85792, "独立于最近联系人")."""
    import_accounts(sandbox, "user_0001", "user_0002")
    create(sandbox, "user_0001", "a", [(1, "user_0002")])
    call(sandbox, MARK, {"From_Account": "user_0001", "MarkItem": [
        {"OptType": 2, "ContactItem": {"Type": 2, "ToGroupId": "@TGS#x"}, "CustomMark": "m"}]})

    answer = call(sandbox, GET_LIST, {"From_Account": "user_0001", **PAGING})

    assert (answer["ErrorCode"], answer["SessionItem"], answer["CompleteFlag"]) == (0, [], 1)


def test_seeded_conversations_are_listed_newest_first_with_their_times_and_groups(sandbox):
    """get_list's sample (https://cloud.tencent.com/document/product/269/62118): Type, To_Account or GroupId,
    MsgTime, TopFlag, and marks and group ids only where a conversation has them."""
    import_accounts(sandbox, "user_0001", "user_0002")
    create(sandbox, "user_0001", "a", [(2, "@TGS#1B2AUI7RZ")])
    response = requests.post(f"{sandbox.base_url}/__sandbox__/conversations", timeout=5, json={
        "From_Account": "user_0001", "SessionItem": [
            {"Type": 1, "To_Account": "user_0002", "MsgTime": 1630997627},
            {"Type": 2, "GroupId": "@TGS#1B2AUI7RZ", "MsgTime": 1630997650},
        ]})

    answer = call(sandbox, GET_LIST, {"From_Account": "user_0001", **PAGING})

    assert (response.status_code, response.json()) == (200, {"seeded": 2})
    assert answer["SessionItem"] == [
        {"Type": 2, "GroupId": "@TGS#1B2AUI7RZ", "MsgTime": 1630997650, "TopFlag": 0, "ContactGroupId": [1]},
        {"Type": 1, "To_Account": "user_0002", "MsgTime": 1630997627, "TopFlag": 0},
    ]


@pytest.mark.parametrize("body", [
    {"SessionItem": []},
    {"From_Account": "user_0001", "SessionItem": [{"Type": 1, "To_Account": "user_0002"}]},
    {"From_Account": "user_0001", "SessionItem": [{"Type": 2, "ToGroupId": "@TGS#x", "MsgTime": 1}]},
])
def test_the_seed_call_refuses_a_bad_conversation_with_http_400(sandbox, body):
    response = requests.post(f"{sandbox.base_url}/__sandbox__/conversations", json=body, timeout=5)

    assert response.status_code == 400 and response.json()["error"]


def test_seeded_conversations_survive_a_restart(make_sandbox, tmp_path):
    state = tmp_path / "state.json"
    first = make_sandbox(state_path=state)
    first.seed_conversations("user_0001", [{"Type": 1, "To_Account": "user_0002", "MsgTime": 5}])
    first.stop()

    second = make_sandbox(state_path=state)
    second.import_accounts("user_0001")

    assert call(second, GET_LIST, {"From_Account": "user_0001", **PAGING})["SessionItem"] == [
        {"Type": 1, "To_Account": "user_0002", "MsgTime": 5, "TopFlag": 0}]


# Where Chat says nothing (docs/sandbox.md lists these as the sandbox's choices)


def test_choice_a_whitespace_only_group_name_is_accepted_as_given(sandbox):
    """The seed page (create_contact_group) limits GroupName to 64 bytes and says nothing of spaces."""
    import_accounts(sandbox, "user_0001")

    assert create(sandbox, "user_0001", "   ")["ErrorCode"] == 0
    assert all_groups(sandbox, "user_0001")["groups"] == {"   ": 1}


def test_choice_unknown_fields_are_ignored(sandbox):
    import_accounts(sandbox, "user_0001")

    answer = call(sandbox, "recentcontact/create_contact_group", {
        "From_Account": "user_0001", "Extra": 1, "GroupContactItem": [{"GroupName": "a", "Colour": "red"}]})

    assert answer["ErrorCode"] == 0
