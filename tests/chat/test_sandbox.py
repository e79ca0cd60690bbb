"""The Chat sandbox, seen as a caller sees it: plain HTTP requests signed with a real UserSig."""

import http.client
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from django.conf import settings

from contactgroups.chat import errors, protocol
from contactgroups.chat.usersig import generate_usersig
from tests.services import free_port as _free_port

CREATE = "recentcontact/create_contact_group"
UPDATE = "recentcontact/update_contact_group"
DELETE_GROUP = "recentcontact/del_contact_group"
GET_GROUPS = "recentcontact/get_contact_group"
SEARCH = "recentcontact/search_contact_group"
MARK = "recentcontact/mark_contact"
GET_LIST = "recentcontact/get_list"
DELETE_SESSION = "recentcontact/delete"
IMPORT = "im_open_login_svc/account_import"
MULTI_IMPORT = "im_open_login_svc/multiaccount_import"
CHECK = "im_open_login_svc/account_check"

# The sample request and response of the seed page (create_contact_group), character for character.
SEED_REQUEST = (
    '{"From_Account": "user_0001","GroupContactItem": [{"GroupName": "group_0001","ContactItem": '
    '[{"Type": 1,"To_Account": "user_0002"},{"Type": 2,"ToGroupId": "@TGS#1B2AUI7RZ"}]}]}'
)
SEED_RESPONSE = (
    '{"GroupResultItem": [{"GroupItem": {"GroupName": "group_0001","GroupId": 1},"ResultItem": [{"ContactItem": '
    '{"Type": 1,"To_Account": "user_0002"},"ResultCode": 0,"ResultInfo": ""},{"ContactItem": {"Type": 2,'
    '"ToGroupId": "@TGS#1B2AUI7RZ"},"ResultCode": 0,"ResultInfo": ""}]}],"ActionStatus": "OK","ErrorCode": 0,'
    '"ErrorInfo": ""}'
)

BASE_DIR = Path(__file__).resolve().parents[2]


def admin_usersig(**options) -> str:
    return generate_usersig(settings.CHAT_SDKAPPID, settings.CHAT_SECRET_KEY, settings.CHAT_ADMIN_IDENTIFIER,
                            **options)


def url(sandbox, endpoint: str, **query) -> str:
    """The Chat URL of ``endpoint``, signed as the admin; a query value of None leaves that parameter out."""
    params = {
        "sdkappid": settings.CHAT_SDKAPPID,
        "identifier": settings.CHAT_ADMIN_IDENTIFIER,
        "usersig": admin_usersig(),
        "random": 1234567890,
        "contenttype": "json",
    }
    params.update(query)
    params = {name: value for name, value in params.items() if value is not None}
    return f"{sandbox.base_url}/v4/{endpoint}?{urllib.parse.urlencode(params, safe='*')}"


def raw_call(sandbox, endpoint: str, body, timeout: float = 5, **query) -> requests.Response:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return requests.post(url(sandbox, endpoint, **query), data=data, timeout=timeout,
                         headers={"Content-Type": "application/json"})


def call(sandbox, endpoint: str, body, **query) -> dict:
    """Chat's JSON answer to ``body``; business errors too come with HTTP 200."""
    response = raw_call(sandbox, endpoint, body, **query)
    assert response.status_code == 200
    return response.json()


def import_accounts(sandbox, *user_ids):
    answer = call(sandbox, MULTI_IMPORT, {"Accounts": list(user_ids)})
    assert answer["FailAccounts"] == []


def create(sandbox, owner, name, conversations=()):
    items = [conversation(kind, target) for kind, target in conversations]
    group = {"GroupName": name, "ContactItem": items}
    return call(sandbox, CREATE, {"From_Account": owner, "GroupContactItem": [group]})


def conversation(kind, target) -> dict:
    return {"Type": kind, ("To_Account" if kind == protocol.TYPE_C2C else "ToGroupId"): target}


def update_members(sandbox, owner, group_name, *operations):
    items = [{"ContactOptType": opt, "ContactItem": conversation(kind, target)} for opt, kind, target in operations]
    return call(sandbox, UPDATE, {"From_Account": owner, "UpdateType": 1, "UpdateGroup": {
        "UpdateGroupType": 2, "OldGroupName": group_name, "ContactUpdateItem": items}})


def all_groups(sandbox, owner) -> dict:
    """Every page of get_contact_group merged: {"groups": {name: id}, "items": [...], "pages": n}."""
    start, items, groups, pages = 0, [], {}, 0
    while True:
        page = call(sandbox, GET_GROUPS, {"From_Account": owner, "StartIndex": start})
        assert page["ErrorCode"] == 0, page
        pages += 1
        items += page["ContactItem"]
        groups.update({item["GroupName"]: item["GroupId"] for item in page["GroupItem"]})
        if page["CompleteFlag"] == 1:
            return {"groups": groups, "items": items, "pages": pages}
        start = page["NextStartIndex"]


def group_conversations(count, prefix="@TGS#g"):
    return [(protocol.TYPE_GROUP, f"{prefix}{number:04d}") for number in range(count)]


def assert_refused(answer, code):
    assert (answer["ActionStatus"], answer["ErrorCode"]) == ("FAIL", code), answer
    assert answer["ErrorInfo"]


# The seed page and every endpoint's shape


def test_seed_sample_request_gets_the_seed_sample_response(sandbox):
    import_accounts(sandbox, "user_0001", "user_0002")

    answer = call(sandbox, CREATE, SEED_REQUEST)

    assert answer == {**json.loads(SEED_RESPONSE), "ErrorDisplay": ""}


def test_group_ids_are_assigned_per_user_in_order_and_never_reused(sandbox):
    import_accounts(sandbox, "user_0001", "user_0002")
    first = create(sandbox, "user_0001", "a")
    second = create(sandbox, "user_0001", "b")
    call(sandbox, DELETE_GROUP, {"From_Account": "user_0001", "GroupName": ["b"]})
    third = create(sandbox, "user_0001", "c")
    other_user = create(sandbox, "user_0002", "a")

    ids = [answer["GroupResultItem"][0]["GroupItem"]["GroupId"] for answer in (first, second, third, other_user)]
    assert ids == [1, 2, 3, 1]


def test_create_without_conversations_makes_an_empty_group(sandbox):
    import_accounts(sandbox, "user_0001")

    answer = call(sandbox, CREATE, {"From_Account": "user_0001", "GroupContactItem": [{"GroupName": "empty"}]})

    assert answer["GroupResultItem"] == [{"GroupItem": {"GroupName": "empty", "GroupId": 1}, "ResultItem": []}]
    assert all_groups(sandbox, "user_0001")["groups"] == {"empty": 1}


def test_rename_answers_the_update_shape_and_the_group_keeps_its_id(sandbox):
    import_accounts(sandbox, "user_0001")
    create(sandbox, "user_0001", "old")

    answer = call(sandbox, UPDATE, {"From_Account": "user_0001", "UpdateType": 1, "UpdateGroup": {
        "UpdateGroupType": 1, "OldGroupName": "old", "NewGroupName": "new"}})

    assert answer == {
        "UpdateType": 1,
        "UpdateGroupResult": {"UpdateGroupType": 1, "GroupName": "new", "GroupId": 1, "OldGroupName": "old"},
        "ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "",
    }
    assert all_groups(sandbox, "user_0001")["groups"] == {"new": 1}


def test_one_update_can_add_and_remove_conversations(sandbox):
    import_accounts(sandbox, "user_0001", "user_0002", "user_0003")
    create(sandbox, "user_0001", "friends", [(1, "user_0002")])

    answer = update_members(sandbox, "user_0001", "friends", (1, 1, "user_0003"), (2, 1, "user_0002"),
                            (1, 2, "@TGS#1B2AUI7RZ"))

    assert answer == {
        "UpdateType": 1,
        "UpdateGroupResult": {
            "UpdateGroupType": 2, "GroupName": "friends", "GroupId": 1, "OldGroupName": "friends",
            "ContactResultItem": [
                {"ContactOptType": 1, "ContactItem": {"Type": 1, "To_Account": "user_0003"}, "ResultCode": 0,
                 "ResultInfo": ""},
                {"ContactOptType": 2, "ContactItem": {"Type": 1, "To_Account": "user_0002"}, "ResultCode": 0,
                 "ResultInfo": ""},
                {"ContactOptType": 1, "ContactItem": {"Type": 2, "ToGroupId": "@TGS#1B2AUI7RZ"}, "ResultCode": 0,
                 "ResultInfo": ""},
            ],
        },
        "ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "",
    }
    members = [(item["Type"], item.get("To_Account") or item.get("ToGroupId"))
               for item in all_groups(sandbox, "user_0001")["items"]]
    assert members == [(1, "user_0003"), (2, "@TGS#1B2AUI7RZ")]


def test_delete_group_answers_the_deleted_group_and_frees_its_conversations(sandbox):
    import_accounts(sandbox, "user_0001", "user_0002")
    create(sandbox, "user_0001", "a", [(1, "user_0002")])

    answer = call(sandbox, DELETE_GROUP, {"From_Account": "user_0001", "GroupName": ["a"]})

    assert answer == {"GroupItem": [{"GroupName": "a", "GroupId": 1}], "ActionStatus": "OK", "ErrorCode": 0,
                      "ErrorInfo": ""}
    assert all_groups(sandbox, "user_0001") == {"groups": {}, "items": [], "pages": 1}


def test_get_contact_group_shows_each_conversation_with_its_groups_and_marks(sandbox):
    import_accounts(sandbox, "user_0001", "user_0002")
    create(sandbox, "user_0001", "a", [(1, "user_0002")])
    create(sandbox, "user_0001", "b", [(1, "user_0002")])

    page = call(sandbox, GET_GROUPS, {"From_Account": "user_0001", "StartIndex": 0})

    (item,) = page["ContactItem"]
    assert item["Timestamp"] > 0
    # Fields without a value are left out, and the last page's NextStartIndex is 0, as in the sample answer of
    # "拉取会话分组标记数据" (https://cloud.tencent.com/document/product/269/85794).
    assert {**item, "Timestamp": 0} == {"Type": 1, "To_Account": "user_0002", "ContactGroupId": [1, 2],
                                        "Timestamp": 0}
    assert page["GroupItem"] == [{"GroupName": "a", "GroupId": 1}, {"GroupName": "b", "GroupId": 2}]
    assert (page["CompleteFlag"], page["NextStartIndex"], page["ErrorCode"]) == (1, 0, 0)


def test_get_contact_group_pages_through_many_conversations(make_sandbox):
    sandbox = make_sandbox(page_size=50)
    import_accounts(sandbox, "user_0001")
    conversations = group_conversations(120)
    create(sandbox, "user_0001", "big", conversations[:100])
    update_members(sandbox, "user_0001", "big", *[(1, kind, target) for kind, target in conversations[100:]])

    pages = []
    start = 0
    while True:
        page = call(sandbox, GET_GROUPS, {"From_Account": "user_0001", "StartIndex": start})
        pages.append((len(page["ContactItem"]), page["CompleteFlag"], page["NextStartIndex"]))
        if page["CompleteFlag"]:
            break
        start = page["NextStartIndex"]

    assert pages == [(50, 0, 50), (50, 0, 100), (20, 1, 0)]
    assert [item["ToGroupId"] for item in all_groups(sandbox, "user_0001")["items"]] == [t for _, t in conversations]


def test_search_answers_the_asked_conversations_and_the_groups_they_are_in(sandbox):
    import_accounts(sandbox, "user_0001", "user_0002", "user_0003")
    create(sandbox, "user_0001", "a", [(1, "user_0002")])
    create(sandbox, "user_0001", "b")

    answer = call(sandbox, SEARCH, {"From_Account": "user_0001",
                                    "ContactItem": [conversation(1, "user_0002"), conversation(1, "user_0003")]})

    found = [{**item, "Timestamp": 0} for item in answer["ContactResultItem"]]
    assert found == [
        {"Type": 1, "To_Account": "user_0002", "ContactGroupId": [1], "Timestamp": 0},
        {"Type": 1, "To_Account": "user_0003", "Timestamp": 0},
    ]
    assert answer["GroupItem"] == [{"GroupName": "a", "GroupId": 1}]
    assert answer["ErrorCode"] == 0


def test_mark_contact_answers_each_item_and_the_marks_show_in_get_contact_group(sandbox):
    import_accounts(sandbox, "user_0001", "user_0002")

    answer = call(sandbox, MARK, {"From_Account": "user_0001", "MarkItem": [
        {"OptType": 3, "ContactItem": conversation(1, "user_0002"), "SetMark": [1, 3], "ClearMark": [3],
         "CustomMark": "abcd"}]})

    assert answer == {"ResultItem": [{"OptType": 3, "ContactItem": {"Type": 1, "To_Account": "user_0002"},
                                      "ResultCode": 0, "ResultInfo": ""}],
                      "ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}
    (item,) = all_groups(sandbox, "user_0001")["items"]
    assert (item["StandardMark"], item["CustomMark"], item.get("ContactGroupId")) == ("10", "abcd", None)


def test_get_list_shows_sessions_and_delete_removes_one_spelled_togroupid(sandbox):
    import_accounts(sandbox, "user_0001", "user_0002")
    sandbox.seed_conversations("user_0001", [{"Type": 1, "To_Account": "user_0002", "MsgTime": 1700000000},
                                             {"Type": 2, "GroupId": "@TGS#1B2AUI7RZ", "MsgTime": 1700000001}])
    create(sandbox, "user_0001", "a", [(1, "user_0002"), (2, "@TGS#1B2AUI7RZ")])
    paging = {"TimeStamp": 0, "StartIndex": 0, "TopTimeStamp": 0, "TopStartIndex": 0, "AssistFlags": 7}

    before = call(sandbox, GET_LIST, {"From_Account": "user_0001", **paging})
    deleted = call(sandbox, DELETE_SESSION, {"From_Account": "user_0001", "Type": 2, "ToGroupid": "@TGS#1B2AUI7RZ",
                                             "ClearRamble": 1})
    after = call(sandbox, GET_LIST, {"From_Account": "user_0001", **paging})

    assert {(item["Type"], item.get("To_Account") or item.get("GroupId")) for item in before["SessionItem"]} == {
        (1, "user_0002"), (2, "@TGS#1B2AUI7RZ")}
    assert set(before["SessionItem"][0]) >= {"Type", "MsgTime", "TopFlag"}
    assert (before["CompleteFlag"], before["ErrorCode"]) == (1, 0)
    assert deleted == {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", "ErrorDisplay": ""}
    assert [item["To_Account"] for item in after["SessionItem"]] == ["user_0002"]
    assert all_groups(sandbox, "user_0001")["items"][1]["ToGroupId"] == "@TGS#1B2AUI7RZ"


def test_delete_refuses_the_togroupid_spelling_of_other_endpoints(sandbox):
    import_accounts(sandbox, "user_0001")

    answer = call(sandbox, DELETE_SESSION, {"From_Account": "user_0001", "Type": 2, "ToGroupId": "@TGS#1B2AUI7RZ"})

    assert_refused(answer, errors.INVALID_PARAMETER)
    assert "ToGroupid" in answer["ErrorInfo"]


def test_account_import_then_account_check_reports_imported_and_not_imported(sandbox):
    imported = call(sandbox, IMPORT, {"UserID": "user_0001", "Nick": "Alice", "FaceUrl": "http://example.com/a.png"})

    checked = call(sandbox, CHECK, {"CheckItem": [{"UserID": "user_0001"}, {"UserID": "user_0009"}]})

    assert imported == {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}
    assert checked["ResultItem"] == [
        {"UserID": "user_0001", "ResultCode": 0, "ResultInfo": "", "AccountStatus": "Imported"},
        {"UserID": "user_0009", "ResultCode": 0, "ResultInfo": "", "AccountStatus": "NotImported"},
    ]
    assert sandbox.snapshot()["accounts"]["user_0001"] == {"Nick": "Alice", "FaceUrl": "http://example.com/a.png"}


def test_multiaccount_import_lists_the_accounts_it_could_not_import(sandbox):
    too_long = "u" * (protocol.USER_ID_MAX_BYTES + 1)

    answer = call(sandbox, MULTI_IMPORT, {"Accounts": ["user_0001", too_long, "user_0002"]})

    assert answer == {"FailAccounts": [too_long], "ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}
    checked = call(sandbox, CHECK, {"CheckItem": [{"UserID": "user_0002"}]})
    assert checked["ResultItem"][0]["AccountStatus"] == "Imported"


def test_importing_an_account_twice_succeeds(sandbox):
    call(sandbox, IMPORT, {"UserID": "user_0001"})

    assert call(sandbox, IMPORT, {"UserID": "user_0001"})["ErrorCode"] == 0


# Every error code


def test_unknown_from_account_is_50001(sandbox):
    assert_refused(create(sandbox, "ghost", "a"), errors.ACCOUNT_NOT_IMPORTED)


def test_unknown_to_account_fails_only_its_item(sandbox):
    import_accounts(sandbox, "user_0001", "user_0002")

    answer = create(sandbox, "user_0001", "a", [(1, "user_0002"), (1, "ghost"), (2, "@TGS#1B2AUI7RZ")])

    assert answer["ErrorCode"] == 0
    codes = [item["ResultCode"] for item in answer["GroupResultItem"][0]["ResultItem"]]
    assert codes == [0, errors.ACCOUNT_NOT_IMPORTED, 0]
    assert "ghost" in answer["GroupResultItem"][0]["ResultItem"][1]["ResultInfo"]


def test_duplicate_group_name_on_create_is_refused(sandbox):
    import_accounts(sandbox, "user_0001")
    create(sandbox, "user_0001", "a")

    answer = create(sandbox, "user_0001", "a")

    assert_refused(answer, errors.GROUP_NAME_TAKEN)
    assert answer["ErrorDisplay"] == ""
    assert all_groups(sandbox, "user_0001")["groups"] == {"a": 1}


def test_rename_onto_an_existing_name_is_refused(sandbox):
    import_accounts(sandbox, "user_0001")
    create(sandbox, "user_0001", "a")
    create(sandbox, "user_0001", "b")

    answer = call(sandbox, UPDATE, {"From_Account": "user_0001", "UpdateType": 1, "UpdateGroup": {
        "UpdateGroupType": 1, "OldGroupName": "a", "NewGroupName": "b"}})

    assert_refused(answer, errors.GROUP_NAME_TAKEN)


def test_group_name_of_64_bytes_is_accepted_and_65_refused_with_51011(sandbox):
    import_accounts(sandbox, "user_0001")
    longest = "组" * (protocol.GROUP_NAME_MAX_BYTES // 3) + "x" * (protocol.GROUP_NAME_MAX_BYTES % 3)

    accepted = create(sandbox, "user_0001", longest)
    refused = create(sandbox, "user_0001", longest + "x")

    assert accepted["ErrorCode"] == 0
    assert_refused(refused, errors.GROUP_NAME_TOO_LONG)


def test_rename_to_a_too_long_name_is_51011(sandbox):
    import_accounts(sandbox, "user_0001")
    create(sandbox, "user_0001", "a")

    answer = call(sandbox, UPDATE, {"From_Account": "user_0001", "UpdateType": 1, "UpdateGroup": {
        "UpdateGroupType": 1, "OldGroupName": "a", "NewGroupName": "x" * (protocol.GROUP_NAME_MAX_BYTES + 1)}})

    assert_refused(answer, errors.GROUP_NAME_TOO_LONG)


def test_more_than_100_conversations_in_a_create_is_51006(sandbox):
    import_accounts(sandbox, "user_0001")
    conversations = group_conversations(protocol.CONVERSATIONS_PER_REQUEST_MAX + 1)

    refused = create(sandbox, "user_0001", "big", conversations)
    accepted = create(sandbox, "user_0001", "big", conversations[:-1])

    assert_refused(refused, errors.TOO_MANY_IN_REQUEST)
    assert accepted["ErrorCode"] == 0


def test_more_than_100_conversations_in_an_update_is_51006(sandbox):
    import_accounts(sandbox, "user_0001")
    create(sandbox, "user_0001", "big")
    operations = [(1, kind, target) for kind, target in group_conversations(protocol.CONVERSATIONS_PER_REQUEST_MAX + 1)]

    answer = update_members(sandbox, "user_0001", "big", *operations)

    assert_refused(answer, errors.TOO_MANY_IN_REQUEST)
    assert all_groups(sandbox, "user_0001")["items"] == []


def test_a_21st_group_is_51010(sandbox):
    import_accounts(sandbox, "user_0001")
    for number in range(protocol.GROUPS_PER_USER_MAX):
        assert create(sandbox, "user_0001", f"g{number}")["ErrorCode"] == 0

    assert_refused(create(sandbox, "user_0001", "one too many"), errors.TOO_MANY_GROUPS)


def test_grouped_conversations_past_1000_fail_per_item_with_51008(sandbox):
    import_accounts(sandbox, "user_0001")
    conversations = group_conversations(protocol.GROUPED_CONVERSATIONS_PER_USER_MAX)
    per_call = protocol.CONVERSATIONS_PER_REQUEST_MAX
    for number, start in enumerate(range(0, len(conversations), per_call)):
        create(sandbox, "user_0001", f"g{number}", conversations[start : start + per_call])

    answer = create(sandbox, "user_0001", "more", [conversations[0], (2, "@TGS#new")])

    codes = [item["ResultCode"] for item in answer["GroupResultItem"][0]["ResultItem"]]
    assert codes == [0, errors.TOO_MANY_GROUPED]


def test_removing_a_grouped_conversation_makes_room_under_the_1000_cap(sandbox):
    import_accounts(sandbox, "user_0001")
    conversations = group_conversations(protocol.GROUPED_CONVERSATIONS_PER_USER_MAX)
    per_call = protocol.CONVERSATIONS_PER_REQUEST_MAX
    for number, start in enumerate(range(0, len(conversations), per_call)):
        create(sandbox, "user_0001", f"g{number}", conversations[start : start + per_call])

    answer = update_members(sandbox, "user_0001", "g0", (1, 2, "@TGS#new"), (2, *conversations[0]),
                            (1, 2, "@TGS#new"))

    codes = [item["ResultCode"] for item in answer["UpdateGroupResult"]["ContactResultItem"]]
    assert codes == [errors.TOO_MANY_GROUPED, 0, 0]


def test_marking_past_1000_conversations_fails_per_item_with_51008(sandbox):
    import_accounts(sandbox, "user_0001")
    marks = [{"OptType": 2, "ContactItem": conversation(kind, target), "CustomMark": "m"}
             for kind, target in group_conversations(protocol.MARKED_CONVERSATIONS_PER_USER_MAX + 1)]
    per_call = protocol.MARK_ITEMS_PER_REQUEST_MAX
    for start in range(0, protocol.MARKED_CONVERSATIONS_PER_USER_MAX, per_call):
        call(sandbox, MARK, {"From_Account": "user_0001", "MarkItem": marks[start : start + per_call]})

    answer = call(sandbox, MARK, {"From_Account": "user_0001", "MarkItem": [marks[0], marks[-1]]})

    assert [item["ResultCode"] for item in answer["ResultItem"]] == [0, errors.TOO_MANY_GROUPED]


@pytest.mark.parametrize(("endpoint", "field", "most"), [
    (MARK, "MarkItem", protocol.MARK_ITEMS_PER_REQUEST_MAX),
    (SEARCH, "ContactItem", protocol.CONVERSATIONS_PER_SEARCH_MAX),
])
def test_too_many_conversations_in_a_mark_or_search_is_51006(sandbox, endpoint, field, most):
    import_accounts(sandbox, "user_0001")
    items = [conversation(kind, target) for kind, target in group_conversations(most + 1)]
    if endpoint == MARK:
        items = [{"OptType": 2, "ContactItem": item, "CustomMark": "m"} for item in items]

    assert_refused(call(sandbox, endpoint, {"From_Account": "user_0001", field: items}), errors.TOO_MANY_IN_REQUEST)


def test_unknown_group_name_is_51009(sandbox):
    import_accounts(sandbox, "user_0001")

    renamed = call(sandbox, UPDATE, {"From_Account": "user_0001", "UpdateType": 1, "UpdateGroup": {
        "UpdateGroupType": 1, "OldGroupName": "nope", "NewGroupName": "x"}})
    updated = update_members(sandbox, "user_0001", "nope", (1, 2, "@TGS#a"))
    deleted = call(sandbox, DELETE_GROUP, {"From_Account": "user_0001", "GroupName": ["nope"]})

    for answer in (renamed, updated, deleted):
        assert_refused(answer, errors.GROUP_NOT_FOUND)


def test_two_groups_in_one_create_are_refused(sandbox):
    import_accounts(sandbox, "user_0001")

    answer = call(sandbox, CREATE, {"From_Account": "user_0001",
                                    "GroupContactItem": [{"GroupName": "a"}, {"GroupName": "b"}]})

    assert_refused(answer, errors.INVALID_PARAMETER)


def test_a_conversation_with_a_bad_type_fails_only_its_item(sandbox):
    import_accounts(sandbox, "user_0001")
    items = [{"Type": 3, "To_Account": "x"}, {"Type": 2, "To_Account": "x"}, {"Type": 2, "ToGroupId": "@TGS#a"}]

    answer = call(sandbox, CREATE, {"From_Account": "user_0001",
                                    "GroupContactItem": [{"GroupName": "a", "ContactItem": items}]})

    codes = [item["ResultCode"] for item in answer["GroupResultItem"][0]["ResultItem"]]
    assert codes == [errors.INVALID_PARAMETER, errors.INVALID_PARAMETER, 0]


def test_a_body_that_is_not_json_is_60003(sandbox):
    """"REST API 公共错误码" (https://cloud.tencent.com/document/product/269/1671): 60003 is a JSON body that does
    not parse; 60002 is the URL."""
    assert_refused(call(sandbox, CREATE, '{"From_Account": '), errors.BAD_JSON_BODY)
    assert_refused(call(sandbox, CREATE, "[1, 2]"), errors.BAD_JSON_BODY)


def test_unknown_endpoint_is_60009_with_http_200(sandbox):
    response = raw_call(sandbox, "recentcontact/no_such_command", {})

    assert response.status_code == 200
    assert_refused(response.json(), errors.UNKNOWN_RESOURCE)


def test_get_on_an_api_path_is_60009(sandbox):
    response = requests.get(url(sandbox, CREATE), timeout=5)

    assert_refused(response.json(), errors.UNKNOWN_RESOURCE)


# UserSig, SDKAppID and admin identifier


def test_expired_usersig_is_70001(sandbox):
    expired = admin_usersig(expire=60, now=int(time.time()) - 3600)

    assert_refused(call(sandbox, CHECK, {"CheckItem": []}, usersig=expired), errors.USERSIG_EXPIRED)


def test_usersig_signed_with_another_key_is_70009(sandbox):
    """Account codes of "REST API 公共错误码" (https://cloud.tencent.com/document/product/269/1671): 70009 is a
    UserSig made with another key."""
    forged = generate_usersig(settings.CHAT_SDKAPPID, "not-the-secret", settings.CHAT_ADMIN_IDENTIFIER)

    assert_refused(call(sandbox, CHECK, {"CheckItem": []}, usersig=forged), errors.USERSIG_OTHER_KEY)


@pytest.mark.parametrize("usersig", ["garbage", None])
def test_unreadable_or_missing_usersig_is_70003(sandbox, usersig):
    assert_refused(call(sandbox, CHECK, {"CheckItem": []}, usersig=usersig), errors.USERSIG_INVALID)


def test_usersig_of_another_identifier_is_70013(sandbox):
    """Same table: 70013 is a request whose UserID is not the one the UserSig was made for."""
    answer = call(sandbox, CHECK, {"CheckItem": []}, identifier="someone_else")

    assert_refused(answer, errors.USERSIG_OTHER_IDENTIFIER)


def test_usersig_of_another_sdkappid_is_70014(sandbox):
    """Same table: 70014 is a request whose SDKAppID is not the one the UserSig was made for."""
    other_app = generate_usersig(1400000001, settings.CHAT_SECRET_KEY, settings.CHAT_ADMIN_IDENTIFIER)

    assert_refused(call(sandbox, CHECK, {"CheckItem": []}, usersig=other_app), errors.USERSIG_OTHER_SDKAPPID)


def test_wrong_sdkappid_is_60006(sandbox):
    assert_refused(call(sandbox, CHECK, {"CheckItem": []}, sdkappid=1400000001), errors.SDKAPPID_INVALID)


def test_missing_sdkappid_is_60012(sandbox):
    assert_refused(call(sandbox, CHECK, {"CheckItem": []}, sdkappid=None), errors.SDKAPPID_MISSING)


def test_non_admin_identifier_with_its_own_valid_usersig_is_60010(sandbox):
    usersig = generate_usersig(settings.CHAT_SDKAPPID, settings.CHAT_SECRET_KEY, "user_0001")

    answer = call(sandbox, CHECK, {"CheckItem": []}, identifier="user_0001", usersig=usersig)

    assert_refused(answer, errors.ADMIN_REQUIRED)


def test_refused_create_answers_error_display_like_the_sample(sandbox):
    answer = call(sandbox, CREATE, SEED_REQUEST, sdkappid=1)

    assert answer == {"ActionStatus": "FAIL", "ErrorCode": errors.SDKAPPID_INVALID, "ErrorInfo": answer["ErrorInfo"],
                      "ErrorDisplay": ""}


# HTTP


def test_keep_alive_connection_serves_several_requests_with_exact_content_length(sandbox):
    connection = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=5)
    target = url(sandbox, CHECK)[len(sandbox.base_url):]
    bodies = []
    for _ in range(3):
        connection.request("POST", target, body=json.dumps({"CheckItem": [{"UserID": "x"}]}),
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        payload = response.read()
        assert int(response.getheader("Content-Length")) == len(payload)
        assert response.version == 11
        bodies.append(json.loads(payload)["ErrorCode"])
    connection.close()

    assert bodies == [0, 0, 0]


def test_concurrent_updates_to_one_group_are_all_applied(sandbox):
    import_accounts(sandbox, "user_0001")
    create(sandbox, "user_0001", "busy")

    def add(number):
        update_members(sandbox, "user_0001", "busy", *[(1, 2, f"@TGS#t{number}-{index}") for index in range(10)])

    threads = [threading.Thread(target=add, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(all_groups(sandbox, "user_0001")["items"]) == 80


# Call log and control endpoints


def test_call_log_records_endpoint_body_and_outcome_without_the_usersig(sandbox):
    import_accounts(sandbox, "user_0001", "user_0002")
    call(sandbox, CREATE, SEED_REQUEST)
    create(sandbox, "ghost", "a")

    creates = sandbox.calls_to(CREATE)

    assert [(call_["body"], call_["outcome"], call_["error_code"], call_["applied"]) for call_ in creates] == [
        (json.loads(SEED_REQUEST), "ok", 0, True),
        ({"From_Account": "ghost", "GroupContactItem": [{"GroupName": "a", "ContactItem": []}]}, "error",
         errors.ACCOUNT_NOT_IMPORTED, True),
    ]
    assert creates[0]["response"]["GroupResultItem"][0]["GroupItem"]["GroupId"] == 1
    assert "usersig" not in json.dumps(sandbox.calls).lower()


def test_calls_endpoint_filters_by_endpoint_and_actor(sandbox):
    sandbox.post(MULTI_IMPORT, {"Accounts": ["user_0001"]})
    create(sandbox, "user_0001", "a")

    client_creates = requests.get(f"{sandbox.base_url}/__sandbox__/calls",
                                  params={"endpoint": CREATE, "actor": "client"}, timeout=5).json()["calls"]
    app_calls = requests.get(f"{sandbox.base_url}/__sandbox__/calls", params={"actor": "app"}, timeout=5).json()

    assert [entry["endpoint"] for entry in client_creates] == [CREATE]
    assert [entry["endpoint"] for entry in app_calls["calls"]] == [MULTI_IMPORT]


def test_post_helper_acts_as_the_users_app_and_returns_chats_answer(sandbox):
    sandbox.import_accounts("user_0001")

    answer = sandbox.post(CREATE, {"From_Account": "user_0001", "GroupContactItem": [{"GroupName": "from app"}]})

    assert answer["GroupResultItem"][0]["GroupItem"] == {"GroupName": "from app", "GroupId": 1}
    assert sandbox.calls_to(CREATE) == []
    assert [entry["actor"] for entry in sandbox.calls_to(CREATE, actor=None)] == ["app"]


def test_state_endpoint_shows_accounts_and_groups(sandbox):
    import_accounts(sandbox, "user_0001")
    create(sandbox, "user_0001", "a", [(2, "@TGS#a")])

    state = requests.get(f"{sandbox.base_url}/__sandbox__/state", timeout=5).json()

    assert state["accounts"] == {"user_0001": {"Nick": "", "FaceUrl": ""}}
    assert state["users"]["user_0001"]["groups"] == [{"name": "a", "group_id": 1, "members": [[2, "@TGS#a"]]}]


def test_reset_endpoint_forgets_everything(sandbox):
    import_accounts(sandbox, "user_0001")
    create(sandbox, "user_0001", "a")

    response = requests.post(f"{sandbox.base_url}/__sandbox__/reset", timeout=5)

    assert response.json() == {"reset": True}
    assert_refused(create(sandbox, "user_0001", "a"), errors.ACCOUNT_NOT_IMPORTED)
    assert [entry["endpoint"] for entry in sandbox.calls] == [CREATE]


def test_faults_endpoint_changes_given_fields_and_delete_turns_all_off(sandbox):
    faults_url = f"{sandbox.base_url}/__sandbox__/faults"

    changed = requests.post(faults_url, json={"latency_ms": 5, "fail_rate": 0.5, "fail_codes": [50004, 50005]},
                            timeout=5).json()
    kept = requests.post(faults_url, json={"drop_rate": 0.1}, timeout=5).json()
    cleared = requests.delete(faults_url, timeout=5).json()

    assert (changed["latency_ms"], changed["fail_rate"], changed["fail_codes"]) == (5, 0.5, [50004, 50005])
    assert (kept["fail_rate"], kept["drop_rate"]) == (0.5, 0.1)
    assert (cleared["latency_ms"], cleared["fail_rate"], cleared["drop_rate"]) == (0, 0, 0)


@pytest.mark.parametrize("bad", [{"fail_rate": 2}, {"fail_rate": 0.6, "drop_rate": 0.6}, {"fail_codes": ["x"]},
                                 {"fail_info": 1}, {"no_such_fault": 1}, {"endpoints": ["recentcontact/nope"]}])
def test_faults_endpoint_refuses_bad_settings_with_http_400(sandbox, bad):
    response = requests.post(f"{sandbox.base_url}/__sandbox__/faults", json=bad, timeout=5)

    assert response.status_code == 400
    assert response.json()["error"]


# Injected faults


def test_injected_error_code_is_answered_and_nothing_changes(sandbox):
    sandbox.import_accounts("user_0001")
    sandbox.set_faults(fail_rate=1.0, fail_codes=[errors.NETWORK_TIMEOUT])

    answer = create(sandbox, "user_0001", "a")

    assert_refused(answer, errors.NETWORK_TIMEOUT)
    assert sandbox.snapshot()["users"] == {}
    (record,) = sandbox.calls_to(CREATE)
    assert (record["outcome"], record["injected"], record["applied"]) == ("error", True, False)


def test_an_injected_error_answers_the_chosen_error_info(sandbox):
    sandbox.import_accounts("user_0001")
    sandbox.set_faults(fail_rate=1.0, fail_codes=[90001], fail_info="<b>Chat's own words</b>")

    answer = create(sandbox, "user_0001", "a")

    assert (answer["ErrorCode"], answer["ErrorInfo"]) == (90001, "<b>Chat's own words</b>")
    sandbox.set_faults(fail_info="")
    assert create(sandbox, "user_0001", "a")["ErrorInfo"] == f"injected by the sandbox: {errors.describe(90001)}"


def test_dropped_connection_gives_no_answer_and_changes_nothing(sandbox):
    sandbox.import_accounts("user_0001")
    sandbox.set_faults(drop_rate=1.0)

    with pytest.raises(requests.ConnectionError):
        create(sandbox, "user_0001", "a")

    assert sandbox.snapshot()["users"] == {}
    assert sandbox.calls_to(CREATE)[0]["outcome"] == "dropped"


def test_ambiguous_drop_applies_the_call_and_then_loses_the_answer(sandbox):
    sandbox.import_accounts("user_0001")
    sandbox.set_faults(drop_rate=1.0, ambiguous=True)

    with pytest.raises(requests.ConnectionError):
        create(sandbox, "user_0001", "a")

    groups = sandbox.post(GET_GROUPS, {"From_Account": "user_0001", "StartIndex": 0})["GroupItem"]
    assert groups == [{"GroupName": "a", "GroupId": 1}]
    record = sandbox.calls_to(CREATE)[0]
    assert (record["outcome"], record["applied"]) == ("dropped", True)


def test_timeout_holds_the_request_past_the_clients_read_timeout_and_changes_nothing(sandbox):
    sandbox.import_accounts("user_0001")
    sandbox.set_faults(timeout_rate=1.0, timeout_seconds=1.0)

    with pytest.raises(requests.ReadTimeout):
        raw_call(sandbox, CREATE, {"From_Account": "user_0001", "GroupContactItem": [{"GroupName": "a"}]},
                 timeout=0.3)

    assert sandbox.snapshot()["users"] == {}
    assert sandbox.calls_to(CREATE)[0]["outcome"] == "timed_out"


def test_timeout_answers_60008_to_a_patient_client(sandbox):
    sandbox.import_accounts("user_0001")
    sandbox.set_faults(timeout_rate=1.0, timeout_seconds=0.2)
    started = time.monotonic()

    answer = create(sandbox, "user_0001", "a")

    assert time.monotonic() - started >= 0.2
    assert_refused(answer, errors.SERVICE_TIMEOUT)


def test_ambiguous_timeout_applies_the_call_before_the_client_gives_up(sandbox):
    sandbox.import_accounts("user_0001")
    sandbox.set_faults(timeout_rate=1.0, timeout_seconds=1.0, ambiguous=True)

    with pytest.raises(requests.ReadTimeout):
        raw_call(sandbox, CREATE, {"From_Account": "user_0001", "GroupContactItem": [{"GroupName": "a"}]},
                 timeout=0.3)

    assert [group["name"] for group in sandbox.snapshot()["users"]["user_0001"]["groups"]] == ["a"]


def test_http_error_is_a_502_without_a_chat_body(sandbox):
    sandbox.import_accounts("user_0001")
    sandbox.set_faults(http_error_rate=1.0)

    response = raw_call(sandbox, CREATE, {"From_Account": "user_0001", "GroupContactItem": [{"GroupName": "a"}]})

    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert sandbox.snapshot()["users"] == {}


def test_latency_delays_each_answer(sandbox):
    sandbox.set_faults(latency_ms=200)
    started = time.monotonic()

    answer = call(sandbox, CHECK, {"CheckItem": []})

    assert time.monotonic() - started >= 0.2
    assert answer["ErrorCode"] == 0


def test_faults_limited_to_some_endpoints_leave_the_others_alone(sandbox):
    sandbox.import_accounts("user_0001")
    sandbox.set_faults(fail_rate=1.0, endpoints=[UPDATE])

    created = create(sandbox, "user_0001", "a")
    updated = update_members(sandbox, "user_0001", "a", (1, 2, "@TGS#a"))

    assert created["ErrorCode"] == 0
    assert_refused(updated, errors.INTERNAL_ERROR)


def test_max_faults_stops_injecting_after_that_many(sandbox):
    sandbox.import_accounts("user_0001")
    sandbox.set_faults(fail_rate=1.0, max_faults=1)

    first = create(sandbox, "user_0001", "a")
    second = create(sandbox, "user_0001", "a")

    assert_refused(first, errors.INTERNAL_ERROR)
    assert second["ErrorCode"] == 0
    assert sandbox.faults["faults_left"] == 0


def test_fail_rate_from_the_constructor_applies_from_the_start(make_sandbox):
    sandbox = make_sandbox(fail_rate=1.0, fail_codes=(errors.NETWORK_TIMEOUT,))

    assert_refused(call(sandbox, CHECK, {"CheckItem": []}), errors.NETWORK_TIMEOUT)


def test_calls_from_the_users_app_are_exempt_from_faults(sandbox):
    sandbox.import_accounts("user_0001")
    sandbox.set_faults(fail_rate=1.0)

    answer = sandbox.post(CREATE, {"From_Account": "user_0001", "GroupContactItem": [{"GroupName": "a"}]})

    assert answer["ErrorCode"] == 0


def test_rate_limit_answers_60007_past_the_limit_per_endpoint(make_sandbox):
    sandbox = make_sandbox(rate_limit=3)

    answers = [call(sandbox, CHECK, {"CheckItem": []})["ErrorCode"] for _ in range(4)]
    other_endpoint = call(sandbox, MULTI_IMPORT, {"Accounts": []})

    assert answers == [0, 0, 0, errors.RATE_LIMITED]
    assert other_endpoint["ErrorCode"] == 0


def test_rate_limit_window_slides_after_a_second(make_sandbox):
    sandbox = make_sandbox(rate_limit=1)
    call(sandbox, CHECK, {"CheckItem": []})

    assert call(sandbox, CHECK, {"CheckItem": []})["ErrorCode"] == errors.RATE_LIMITED
    time.sleep(1.05)
    assert call(sandbox, CHECK, {"CheckItem": []})["ErrorCode"] == 0


# Persistence and life cycle


def test_state_survives_a_restart_and_group_ids_continue(make_sandbox, tmp_path):
    state_path = tmp_path / "chat.json"
    first = make_sandbox(state_path=state_path)
    import_accounts(first, "user_0001", "user_0002")
    create(first, "user_0001", "a", [(1, "user_0002")])
    create(first, "user_0001", "b")
    call(first, DELETE_GROUP, {"From_Account": "user_0001", "GroupName": ["b"]})
    first.stop()

    second = make_sandbox(state_path=state_path)

    assert all_groups(second, "user_0001")["groups"] == {"a": 1}
    assert create(second, "user_0001", "c")["GroupResultItem"][0]["GroupItem"]["GroupId"] == 3
    assert sorted(path.name for path in tmp_path.iterdir()) == ["chat.json"]


def test_state_is_flushed_to_the_file_while_running(make_sandbox, tmp_path):
    state_path = tmp_path / "chat.json"
    sandbox = make_sandbox(state_path=state_path)
    import_accounts(sandbox, "user_0001")

    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        if state_path.exists() and "user_0001" in json.loads(state_path.read_text())["accounts"]:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the state file was not written within 3 seconds")


def test_a_stopped_sandbox_refuses_connections(make_sandbox):
    sandbox = make_sandbox()
    sandbox.stop()

    with pytest.raises(requests.ConnectionError):
        call(sandbox, CHECK, {"CheckItem": []})


def test_management_command_serves_over_http_and_saves_state_on_sigterm(tmp_path):
    port = _free_port()
    state_path = tmp_path / "chat.json"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "imadmin.settings",
        "SECRET_KEY": settings.SECRET_KEY,
        "CHAT_SDKAPPID": str(settings.CHAT_SDKAPPID),
        "CHAT_SECRET_KEY": settings.CHAT_SECRET_KEY,
        "CHAT_ADMIN_IDENTIFIER": settings.CHAT_ADMIN_IDENTIFIER,
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "chat_sandbox", "--port", str(port), "--state", str(state_path)],
        cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, "the sandbox printed nothing within 20 seconds"
        banner = process.stdout.readline()
        assert f"listening on http://127.0.0.1:{port}" in banner

        imported = call(SimpleNamespace(base_url=f"http://127.0.0.1:{port}"), IMPORT, {"UserID": "user_0001"})
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert imported["ErrorCode"] == 0
    assert exit_code == 0
    assert "stopped" in process.stdout.read()
    assert "user_0001" in json.loads(state_path.read_text())["accounts"]
