"""The words staff read are theirs: Chat's code always with its meaning, and none of the audit's words.

Endpoint names (create_contact_group...), Chat's JSON field names (From_Account, ResultCode, ErrorInfo...) and "the
request may have taken effect" belong to the audit pages (the Chat calls). The group pages, the Chat user pages,
the lists and the messages are rendered here for every kind of outcome a sync, a pull and an import store, made
by the sandbox over HTTP, in English and in Chinese; the audit page still shows those words.
"""

import re

import pytest
from django.urls import reverse
from kombu.exceptions import OperationalError

from contactgroups import sync
from contactgroups.chat import errors, protocol
from contactgroups.models import ChatUser, ContactGroup, SyncAttempt
from tests.admin_forms import form_errors, group_form_data
from tests.project.test_translations import page_text

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP

# GroupId, the number Chat gives a user's group, is how staff and Tencent name a group: the pages show it.
JSON_FIELDS = ["From_Account", "To_Account", "ToGroupId", "ToGroupid", "ResultCode", "ResultInfo", "ErrorCode",
               "ErrorInfo", "ActionStatus", "GroupContactItem", "ContactItem", "GroupName", "UpdateGroup",
               "FailAccounts", "AccountList", "CheckItem", "ResultItem", "GroupResultItem"]
# An endpoint by its path, or by its name alone when that is no plain word ("delete" is one).
ENDPOINT_NAMES = [name for endpoint in protocol.ENDPOINTS for name in endpoint.split("/")[1:] if "_" in name]
AUDIT_WORDS = [*JSON_FIELDS, *protocol.ENDPOINTS, *ENDPOINT_NAMES, "may have taken effect", "may have been made"]

pytestmark = pytest.mark.django_db(transaction=True)


def audit_words_in(text: str) -> list[str]:
    return sorted({word for word in AUDIT_WORDS if re.search(rf"(?<![\w/]){re.escape(word)}(?!\w)", text)})


@pytest.fixture
def every_outcome(chat_sandbox, staff, make_group, settings):
    """A group for each outcome a sync or a pull stores, Chat users for each an import or check stores, and the
    Chat calls that made them. Chat's own texts name its JSON fields (From_Account ... is not imported)."""
    chat_sandbox.import_accounts("user_0001", "user_0002", "user_0003")
    owner = ChatUser.objects.create(user_id="user_0001")
    settings.SYNC_MAX_ATTEMPTS = 1
    groups = {}

    def made(name, conversations=(C2C, "user_0002"), who=owner):  # noqa: B008
        groups[name] = make_group(who, name, [conversations])
        return groups[name]

    # created, partly refused (50001 on a conversation)
    sync.sync_group(make_group(owner, "partial", [(C2C, "user_0002"), (C2C, "never_imported")]).pk, staff.pk)
    groups["partial"] = ContactGroup.objects.get(name="partial")
    # synced, with a rename the user made in the app (a conflict the staff's name wins)
    renamed = made("work")
    sync.sync_group(renamed.pk, staff.pk)
    chat_sandbox.post(protocol.UPDATE_CONTACT_GROUP, {
        "From_Account": "user_0001", "UpdateType": 1,
        "UpdateGroup": {"UpdateGroupType": 1, "OldGroupName": "work", "NewGroupName": "job"}})
    ContactGroup.objects.filter(pk=renamed.pk).update(name="office")
    sync.sync_group(renamed.pk, staff.pk)
    # stopped: the owner is not imported (50001 on the call)
    stranger = ChatUser.objects.create(user_id="not_in_chat")
    with pytest.raises(errors.ChatAccountNotImportedError):
        sync.sync_group(made("refused", who=stranger).pk, staff.pk)
    # gave up: Chat's server failed (HTTP 502), then no answer, then unreachable
    chat_sandbox.set_faults(http_error_rate=1.0, endpoints=[protocol.GET_CONTACT_GROUP, protocol.CREATE_CONTACT_GROUP])
    sync.sync_with_retries(made("http").pk, staff.pk, sleep=lambda seconds: None)
    chat_sandbox.set_faults(http_error_rate=0.0, drop_rate=1.0)
    sync.sync_with_retries(made("dropped").pk, staff.pk, sleep=lambda seconds: None)
    chat_sandbox.set_faults(drop_rate=0.0, endpoints=[])
    base_url = settings.CHAT_API_BASE_URL
    settings.CHAT_API_BASE_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    sync.sync_with_retries(made("unreachable").pk, staff.pk, sleep=lambda seconds: None)
    settings.CHAT_API_BASE_URL = base_url
    # not queued: the broker could not take the task
    sync.not_queued(made("not queued").pk, staff.pk, OperationalError("connection refused"))
    # deleted from Chat
    gone = made("gone")
    sync.sync_group(gone.pk, staff.pk)
    ContactGroup.objects.filter(pk=gone.pk).update(delete_requested=True, state=ContactGroup.State.DELETING)
    sync.sync_group(gone.pk, staff.pk)
    # deleted in the app, then synced; renamed in the app, deleted in the app, created in the app, then pulled
    # (the groups of another owner, so the pull leaves the outcomes above as they are)
    other = ChatUser.objects.create(user_id="user_0002")
    for name in ("app deleted", "app renamed", "app removed"):
        sync.sync_group(made(name, (C2C, "user_0003"), who=other).pk, staff.pk)
    for name in ("app deleted", "app removed"):
        chat_sandbox.post(protocol.DEL_CONTACT_GROUP, {"From_Account": "user_0002", "GroupName": [name]})
    chat_sandbox.post(protocol.UPDATE_CONTACT_GROUP, {
        "From_Account": "user_0002", "UpdateType": 1,
        "UpdateGroup": {"UpdateGroupType": 1, "OldGroupName": "app renamed", "NewGroupName": "renamed there"}})
    ContactGroup.objects.filter(name="app deleted").update(state=ContactGroup.State.QUEUED)
    sync.sync_group(groups["app deleted"].pk, staff.pk)
    chat_sandbox.post(protocol.CREATE_CONTACT_GROUP, {
        "From_Account": "user_0002",
        "GroupContactItem": [{"GroupName": "from the app", "ContactItem": [{"Type": 1, "To_Account": "user_0003"}]}]})
    sync.pull_owner(other.pk, staff.pk)
    # Chat users: checked not imported, import refused with a code, check failed
    checked = ChatUser.objects.create(user_id="ghost")
    sync.check_users([checked.pk], staff.pk)
    refused = ChatUser.objects.create(user_id="refused_one")
    chat_sandbox.set_faults(fail_rate=1.0, fail_codes=[errors.ACCOUNT_INVALID_PARAMETER],
                            endpoints=[protocol.MULTIACCOUNT_IMPORT])
    sync.import_users([refused.pk], staff.pk)
    chat_sandbox.set_faults(fail_rate=0.0, http_error_rate=1.0, endpoints=[protocol.ACCOUNT_CHECK])
    unanswered = ChatUser.objects.create(user_id="unanswered")
    sync.check_users([unanswered.pk], staff.pk)
    chat_sandbox.set_faults(http_error_rate=0.0, endpoints=[])
    return {"groups": list(ContactGroup.objects.all()), "users": list(ChatUser.objects.all())}


def staff_pages(data) -> list[str]:
    urls = [reverse("admin:contactgroups_contactgroup_changelist"),
            reverse("admin:contactgroups_contactgroup_changelist") + "?state=all",
            reverse("admin:contactgroups_contactgroup_add"),
            reverse("admin:contactgroups_chatuser_changelist")]
    for group in data["groups"]:
        urls += [reverse("admin:contactgroups_contactgroup_change", args=[group.pk]),
                 reverse("admin:contactgroups_contactgroup_history", args=[group.pk])]
        if group.state != ContactGroup.State.DELETED:
            urls.append(reverse("admin:contactgroups_contactgroup_delete", args=[group.pk]))
    for user in data["users"]:
        urls += [reverse("admin:contactgroups_chatuser_change", args=[user.pk]),
                 reverse("admin:contactgroups_chatuser_history", args=[user.pk])]
    return urls


def outcome_codes(data) -> set[str]:
    return {ContactGroup.objects.get(pk=group.pk).sync.last_outcome.get("code") for group in data["groups"]}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_staff_pages_give_chats_codes_with_their_meaning_and_no_audit_words(client, staff, every_outcome,
                                                                             language):
    assert outcome_codes(every_outcome) >= {"created", "synced", "stopped", "gave_up", "not_queued", "deleted",
                                            "deleted_in_app", "pulled", "gone_from_chat", "adopted"}
    client.force_login(staff)
    client.cookies["django_language"] = language
    shown = {}
    for url in staff_pages(every_outcome):
        response = client.get(url)
        assert response.status_code == 200, url
        shown[url] = page_text(response)
    # The messages of the sync action over every group, and of imports that Chat refuses and accepts.
    groups = [g.pk for g in every_outcome["groups"] if g.state != ContactGroup.State.DELETED]
    response = client.post(reverse("admin:contactgroups_contactgroup_changelist"),
                           {"action": "sync_to_chat", "_selected_action": groups}, follow=True)
    shown["sync action"] = page_text(response)
    # The form's refusals of conversations whose target does not match their type, and its warnings.
    owner = ChatUser.objects.get(user_id="user_0001")
    response = client.post(reverse("admin:contactgroups_contactgroup_add"), group_form_data(
        owner=owner, name="mixed", items=[(C2C, "", "@TGS#1"), (GROUP, "user_0002", ""), (GROUP, "", "")]))
    assert response.status_code == 200 and len(form_errors(response)) == 3
    shown["refused form"] = page_text(response)
    response = client.post(reverse("admin:contactgroups_contactgroup_add"), group_form_data(
        owner=ChatUser.objects.get(user_id="ghost"), name="warned", items=[(C2C, "@TGS#1", "")]))
    assert response.status_code == 200 and 'name="_save_anyway"' in response.content.decode()
    shown["warned form"] = page_text(response)
    for user_id in ("refused_one", "ghost"):
        response = client.post(reverse("admin:contactgroups_chatuser_import_one"), {"user_id": user_id}, follow=True)
        shown[f"import {user_id}"] = page_text(response)

    assert {url: audit_words_in(text) for url, text in shown.items() if audit_words_in(text)} == {}
    everything = " ".join(shown.values())
    # Each of Chat's codes the outcomes hold is shown with its meaning.
    meanings = {language: {
        50001: {"en": "The UserID has not been imported into Chat", "zh-hans": "该 UserID 尚未导入 IM"},
        70402: {"en": "A required account field is missing", "zh-hans": "缺少必填的账号字段"},
    }}
    for code, words_of in meanings[language].items():
        assert re.search(rf"{code}:? {re.escape(words_of[language])}", everything), code


def test_the_audit_still_shows_chats_own_words(client, staff, every_outcome):
    client.force_login(staff)
    create = SyncAttempt.objects.filter(operation="create_contact_group", error_code=50001).first()
    text = page_text(client.get(reverse("admin:contactgroups_syncattempt_change", args=[create.pk])))
    assert "create_contact_group" in text and "From_Account not_in_chat is not imported" in text
    assert {"From_Account", "ErrorCode", "ErrorInfo", "ActionStatus"} <= set(audit_words_in(text))
    for name, said in [("dropped", "The connection to Chat was lost before its answer came: the request may have "
                                   "taken effect."),
                       ("http", "Chat answered with HTTP 502: the request may have taken effect.")]:
        call = SyncAttempt.objects.filter(group__name=name, outcome=SyncAttempt.Outcome.NO_ANSWER).first()
        assert said in page_text(client.get(reverse("admin:contactgroups_syncattempt_change", args=[call.pk])))
    listing = page_text(client.get(reverse("admin:contactgroups_syncattempt_changelist")))
    assert "create_contact_group" in listing
