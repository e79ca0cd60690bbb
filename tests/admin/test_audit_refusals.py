"""The audit's ErrorCode filter finds the calls Chat answered with the code and those that refused a conversation
with it; the detail page of a call names the codes it refused conversations with."""

import json
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from contactgroups import sync, words
from contactgroups.chat import errors, protocol
from contactgroups.chat.record import CallRecord
from contactgroups.models import SyncAttempt
from tests.project.test_translations import page_text

C2C = protocol.TYPE_C2C
CALLS = reverse("admin:contactgroups_syncattempt_changelist")


def record(response):
    return CallRecord(endpoint="recentcontact/create_contact_group", request={}, response=response, http_status=200,
                      action_status="OK", error_code=0, error_info="", started_at=datetime.now(UTC), duration=0.01)


def item(code, target="user_0002"):
    return {"ContactItem": {"Type": C2C, "To_Account": target}, "ResultCode": code, "ResultInfo": ""}


def test_a_call_names_each_code_it_refused_items_with_once_and_leaves_failed_accounts_out():
    answer = {"ErrorCode": 0, "CreateResultItem": [item(0), item(50001, "a"), item(50001, "b"), item(51007, "c")],
              "FailAccounts": ["user_9"]}
    assert record(answer).refused_codes == (50001, 51007)
    assert record(answer).refused_items == 4
    assert record({"ErrorCode": 0, "FailAccounts": ["user_9"]}).refused_codes == ()
    assert record(None).refused_codes == ()


@pytest.fixture
def partly_refused_create(owner, chat_sandbox, make_group, staff):
    """A create in which Chat accepted one conversation and refused a user not imported, with 50001."""
    chat_sandbox.import_accounts(owner.user_id, "user_0002")
    group = make_group(owner, "work", [(C2C, "user_0002"), (C2C, "user_9")])
    sync.sync_group(group.pk, staff.pk)
    attempt = SyncAttempt.objects.get(group=group, operation="create_contact_group")
    assert (attempt.error_code, attempt.outcome) == (0, SyncAttempt.Outcome.PARTIAL)
    return attempt


def listed(client, code):
    response = client.get(CALLS, {"error_code": code})
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


@pytest.mark.django_db
def test_the_errorcode_filter_finds_a_create_in_which_a_conversation_was_refused_with_it(
        admin_client, partly_refused_create):
    assert listed(admin_client, errors.ACCOUNT_NOT_IMPORTED) == [partly_refused_create]


@pytest.mark.django_db
def test_the_errorcode_filter_still_finds_calls_chat_answered_with_the_code(admin_client, partly_refused_create):
    failed = SyncAttempt.objects.create(
        owner_user_id="user_0001", operation="update_contact_group", request={}, error_code=errors.GROUP_NOT_FOUND,
        outcome=SyncAttempt.Outcome.REFUSED, started_at=timezone.now(), duration_ms=10)
    assert listed(admin_client, errors.GROUP_NOT_FOUND) == [failed]
    assert set(listed(admin_client, errors.ACCOUNT_NOT_IMPORTED)) == {partly_refused_create}


@pytest.mark.django_db
def test_the_errorcode_filter_finds_nothing_for_a_code_no_call_had(admin_client, partly_refused_create):
    assert listed(admin_client, errors.TOO_MANY_GROUPS) == []


@pytest.mark.django_db
def test_the_page_of_a_call_names_the_codes_it_refused_conversations_with(admin_client, partly_refused_create):
    url = reverse("admin:contactgroups_syncattempt_change", args=[partly_refused_create.pk])
    html = admin_client.get(url).content.decode()
    assert words.code_text(errors.ACCOUNT_NOT_IMPORTED) in html


BEFORE = [("contactgroups", "0005_syncattemptrefusal")]
AFTER = [("contactgroups", "0006_fill_syncattemptrefusal")]


@pytest.mark.django_db(transaction=True)
def test_the_migration_reads_the_refused_codes_of_calls_already_in_the_audit():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("contactgroups", "SyncAttempt")
    fields = {"owner_user_id": "user_0001", "operation": "create_contact_group", "request": {},
              "started_at": "2026-01-01T00:00:00Z", "duration_ms": 10}
    partial = old.objects.create(
        response={"ErrorCode": 0, "CreateResultItem": [item(0), item(50001, "a"), item(51007, "b")]},
        refused_items=2, outcome="partial", **fields)
    accounts = old.objects.create(response={"ErrorCode": 0, "FailAccounts": ["user_9"]}, refused_items=1,
                                  outcome="partial", **fields)
    old.objects.create(response=None, outcome="no_answer", **fields)

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    Refusal = executor.loader.project_state(AFTER).apps.get_model("contactgroups", "SyncAttemptRefusal")
    assert sorted(Refusal.objects.values_list("attempt_id", "code")) == [(partial.pk, 50001), (partial.pk, 51007)]
    assert not Refusal.objects.filter(attempt_id=accounts.pk).exists()

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    Refusal = executor.loader.project_state(BEFORE).apps.get_model("contactgroups", "SyncAttemptRefusal")
    assert not Refusal.objects.exists()
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db
def test_the_health_pages_link_for_a_code_this_admin_cannot_read_lists_its_calls(admin_client):
    from contactgroups.models import SyncAttemptRefusal
    from contactgroups.models.health import count_calls

    odd = SyncAttempt.objects.create(
        owner_user_id="user_0001", operation="update_contact_group", request={}, error_code=errors.CODE_UNREADABLE,
        outcome=SyncAttempt.Outcome.REFUSED, started_at=timezone.now(), duration_ms=10)
    negative = SyncAttempt.objects.create(
        owner_user_id="user_0001", operation="update_contact_group", request={}, error_code=-5,
        outcome=SyncAttempt.Outcome.REFUSED, started_at=timezone.now(), duration_ms=10)
    count_calls([(odd, ()), (negative, ())])
    assert not SyncAttemptRefusal.objects.exists()

    html = admin_client.get(reverse("admin:contactgroups_health")).content.decode()
    link = f'href="{CALLS}?error_code=%3F&amp;started=day"'
    assert link in html
    assert listed(admin_client, "?") == [odd]
    assert listed(admin_client, "-5") == [negative]
    # Text that names no code a column holds finds nothing, and is no error page.
    assert listed(admin_client, str(errors.CODE_MAX + 1)) == []
    assert listed(admin_client, "5x") == []


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_call_to_a_chat_that_could_not_be_reached_is_audited_as_not_sent(owner, chat_sandbox, make_group, staff,
                                                                        client, language):
    """Nothing was sent when no connection was made: the audit says so, and the same for a call whose connection
    was lost, which may have taken effect."""
    chat_sandbox.import_accounts("user_0001", "user_0002")
    group = make_group(owner, "work", [(C2C, "user_0002")])
    chat_sandbox.stop()
    with pytest.raises(errors.ChatConnectError):
        sync.sync_group(group.pk, staff.pk)
    calls = list(SyncAttempt.objects.filter(group=group))
    assert calls and {(call.outcome, call.response) for call in calls} == {(SyncAttempt.Outcome.NOT_SENT, None)}
    call = calls[0]
    client.force_login(staff)
    client.cookies["django_language"] = language
    text = page_text(client.get(reverse("admin:contactgroups_syncattempt_change", args=[call.pk])))
    said = {"en": ("Not sent", "so the request was not sent: nothing changed in Chat."),
            "zh-hans": ("未发送", "请求未发送：IM 中没有任何变化。")}[language]
    assert all(part in text for part in said), text
    assert "may have taken effect" not in text and "可能已经生效" not in text


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_calls_read_as_what_they_did_with_the_api_name_beside_and_a_long_body_folds(admin_client, owner,
                                                                                       language):
    answer = {"ErrorCode": 0, "CreateResultItem": [item(0, f"user_{n:04d}") for n in range(40)]}
    call = SyncAttempt.objects.create(
        owner_user_id=owner.user_id, group_name="work", operation="create_contact_group", request={"a": 1},
        response=answer, outcome=SyncAttempt.Outcome.OK, started_at=timezone.now(), duration_ms=12)
    admin_client.cookies["django_language"] = language
    did = {"en": "create a group", "zh-hans": "创建分组"}[language]

    listing = admin_client.get(CALLS).content.decode()
    assert f'{did} <code class="api-name">create_contact_group</code>' in listing
    assert {"en": "create a group (create_contact_group)", "zh-hans": "创建分组（create_contact_group）"}[
        language] in page_text(admin_client.get(CALLS))  # the filter's choice

    page = admin_client.get(reverse("admin:contactgroups_syncattempt_change", args=[call.pk])).content.decode()
    lines = json.dumps(answer, indent=2, ensure_ascii=False).count("\n") + 1
    summary = {"en": f"Show the whole body ({lines} lines)", "zh-hans": f"显示完整内容（共 {lines} 行）"}[language]
    assert f'<details class="body-fold"><summary>{summary}</summary>' in page
    assert page.count("user_0039") == 1  # in the fold only; the first lines shown before it end earlier
    assert '<pre>{\n  &quot;a&quot;: 1\n}</pre>' in page  # a short body is shown whole
