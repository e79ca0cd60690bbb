"""The admin at scale: pages make the same number of queries however many rows there are, filters and searches
use what an index answers, and the counts the changelist shows stay right when conversations change.

bench/admin_scale.py times the same pages on 100,000 groups and 1,000,000 conversations.
"""

from datetime import timedelta

import pytest
from django import forms
from django.contrib.admin.widgets import AdminTextInputWidget
from django.db import connection
from django.test.html import parse_html
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contactgroups import sync
from contactgroups.admin.audit import EstimatedCountPaginator
from contactgroups.admin.widgets import FastCheckboxInput, FastHiddenInput, FastSelect, FastTextInput
from contactgroups.chat import protocol
from contactgroups.imports.groups import apply_group_import, plan_group_import
from contactgroups.models import ChatUser, ContactGroup, ContactItem, GroupSync, SyncAttempt, SyncAttemptRefusal
from tests.admin_forms import group_form_data

pytestmark = pytest.mark.django_db

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
GROUPS = reverse("admin:contactgroups_contactgroup_changelist")
USERS = reverse("admin:contactgroups_chatuser_changelist")
CALLS = reverse("admin:contactgroups_syncattempt_changelist")


def change_url(group):
    return reverse("admin:contactgroups_contactgroup_change", args=[group.pk])


def get(client, url, params=None):
    """The page and the number of queries it took."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return response, queries


def listed(response) -> list[str]:
    return sorted(str(row) for row in response.context["cl"].result_list)


# ----------------------------------------------------------------------------------------------------------------
# Constant queries


def add_groups(make_group, count, start=0, owner=None):
    """``count`` groups, each of another owner unless ``owner`` is given, each holding the same two targets."""
    for number in range(start, start + count):
        group_owner = owner or ChatUser.objects.create(user_id=f"owner_{number}")
        make_group(group_owner, f"group {number}",
                   [(C2C, "shared_peer"), (GROUP, "@TGS#shared"), (C2C, f"peer_{number}")])


@pytest.mark.parametrize("params", [
    {},
    {"state": "draft", "owner": "busy_owner"},
    {"q": "busy_owner"},
    {"q": "shared_peer"},
    {"q": "@TGS#shared"},
], ids=["changelist", "state and owner", "search by owner", "search by target", "search by group id"])
def test_group_pages_take_as_many_queries_for_50_groups_as_for_5(admin_client, make_group, params):
    busy = ChatUser.objects.create(user_id="busy_owner")
    owner = busy if params else None
    add_groups(make_group, 5, owner=owner)
    five, five_queries = get(admin_client, GROUPS, params)
    add_groups(make_group, 45, start=5, owner=owner)
    fifty, fifty_queries = get(admin_client, GROUPS, params)
    assert (five.context["cl"].result_count, fifty.context["cl"].result_count) == (5, 50)
    assert len(fifty_queries) == len(five_queries)


def test_changed_in_the_app_reads_only_the_groups_with_drift(admin_client, make_group):
    add_groups(make_group, 50)
    drifted = ContactGroup.objects.order_by("pk")[::20]
    GroupSync.objects.filter(group__in=drifted).update(drift={"renamed_from": "a", "renamed_to": "b"})
    page, queries = get(admin_client, GROUPS, {"drift": "yes"})
    assert listed(page) == sorted(str(group) for group in drifted)
    assert len(queries) == len(get(admin_client, GROUPS)[1])
    if connection.vendor == "sqlite":
        # The groups are found through the partial index of the sync rows with drift, then sorted: the index of
        # every group by last change is not scanned.
        plan = page.context["cl"].queryset.explain()
        assert "groupsync_drift" in plan and "contactgroup_updated_id" not in plan


def test_group_page_takes_as_many_queries_for_150_conversations_as_for_10(admin_client, owner, make_group):
    small = make_group(owner, "small", [(C2C, f"peer_{n}") for n in range(10)])
    large = make_group(owner, "large", [(C2C, f"peer_{n}") for n in range(150)])
    # Refused as not imported: one row of the small group, fifty of the large, each offering its import (the
    # import states of the users refused are read in one query however many there are).
    ContactItem.objects.filter(group=small, to_account="peer_7").update(result_code=50001)
    ContactItem.objects.filter(group=large, to_account__in=[f"peer_{n}" for n in range(50)]).update(
        result_code=50001)
    get(admin_client, change_url(small))  # the first page of a process also caches the content types
    _small_page, small_queries = get(admin_client, change_url(small))
    large_page, large_queries = get(admin_client, change_url(large))
    assert len(large_queries) == len(small_queries)
    html = large_page.content.decode()
    assert 'name="items-149-to_account"' in html
    assert html.count('<strong class="refused">50001:') == 50
    assert html.count("Import this user into Chat</button>") == 50


def save_queries(client, group, new_target):
    """Queries of saving the group page with its rows as they are and one new conversation."""
    with CaptureQueriesContext(connection) as queries:
        response = client.post(change_url(group), group_form_data(
            name=group.name, existing=list(group.items.all()), items=[(C2C, new_target, "")]))
    assert response.status_code == 302
    return len(queries)


def test_saving_150_conversations_takes_as_many_queries_as_saving_10(admin_client, owner, make_group):
    small = make_group(owner, "small", [(C2C, f"peer_{n}") for n in range(10)])
    large = make_group(owner, "large", [(C2C, f"peer_{n}") for n in range(150)])
    save_queries(admin_client, small, "warm_up")
    assert save_queries(admin_client, large, "new_large") == save_queries(admin_client, small, "new_small")
    assert counts(large) == (151, 0, 0)


def test_a_row_of_another_group_cannot_be_saved_into_this_one(admin_client, owner, make_group):
    group = make_group(owner, "mine", [(C2C, "user_0002")])
    other = make_group(owner, "other", [(C2C, "user_0003")])
    [foreign] = other.items.all()
    response = admin_client.post(change_url(group), group_form_data(name="mine", existing=[foreign]))
    assert response.status_code == 200
    assert [item.to_account for item in other.items.all()] == ["user_0003"]
    assert [item.to_account for item in group.items.all()] == ["user_0002"]


def test_changing_a_rows_type_without_its_target_is_refused(admin_client, owner, make_group):
    group = make_group(owner, "mine", [(C2C, "user_0002")])
    [item] = group.items.all()
    item.type = GROUP
    response = admin_client.post(change_url(group), group_form_data(name="mine", existing=[item]))
    assert response.status_code == 200
    assert "A group conversation names a Chat group id, not a user." in response.content.decode()
    assert group.items.get().type == C2C


def test_chat_user_changelist_takes_as_many_queries_for_50_users_as_for_5(admin_client):
    ChatUser.objects.bulk_create(ChatUser(user_id=f"user_{n}") for n in range(5))
    _five, five_queries = get(admin_client, USERS)
    ChatUser.objects.bulk_create(ChatUser(user_id=f"user_{n}") for n in range(5, 50))
    fifty, fifty_queries = get(admin_client, USERS)
    assert len(fifty.context["cl"].result_list) == 50
    assert len(fifty_queries) == len(five_queries)


def add_calls(count, start=0, **fields):
    now = timezone.now()
    fields = {"outcome": "ok", **fields}
    SyncAttempt.objects.bulk_create(
        SyncAttempt(owner_user_id=f"owner_{n % 3}", operation="update_contact_group", request={},
                    started_at=now - timedelta(minutes=n), duration_ms=20, **fields)
        for n in range(start, start + count)
    )


@pytest.mark.parametrize("params", [{}, {"error_code": "50001", "operation": "update_contact_group",
                                         "started": "day"}], ids=["all", "filtered"])
def test_chat_call_changelist_takes_as_many_queries_for_50_calls_as_for_5(admin_client, params):
    add_calls(5, error_code=50001)
    _five, five_queries = get(admin_client, CALLS, params)
    add_calls(45, start=5, error_code=50001)
    fifty, fifty_queries = get(admin_client, CALLS, params)
    assert len(fifty.context["cl"].result_list) == 50
    assert len(fifty_queries) == len(five_queries)


def add_refused_calls(count, start=0):
    """``count`` partly refused calls, each of which refused a conversation with 50001."""
    add_calls(count, start=start, error_code=0, outcome="partial", refused_items=1)
    SyncAttemptRefusal.objects.bulk_create(
        SyncAttemptRefusal(attempt=attempt, code=50001)
        for attempt in SyncAttempt.objects.filter(error_code=0).exclude(refusals__code=50001))


def test_chat_calls_filtered_by_a_refused_items_code_take_as_many_queries_for_50_calls_as_for_5(admin_client):
    add_refused_calls(3)
    add_calls(2, start=3, error_code=50001)
    five, five_queries = get(admin_client, CALLS, {"error_code": "50001"})
    add_refused_calls(27, start=5)
    add_calls(18, start=32, error_code=50001)
    fifty, fifty_queries = get(admin_client, CALLS, {"error_code": "50001"})
    assert (five.context["cl"].result_count, fifty.context["cl"].result_count) == (5, 50)
    assert len(fifty_queries) == len(five_queries)
    statements = [query["sql"].upper() for query in fifty_queries.captured_queries]
    assert not [sql for sql in statements if "DISTINCT" in sql or 'JOIN "CONTACTGROUPS_SYNCATTEMPTREFUSAL"' in sql]


def test_chat_call_filters_read_no_column_of_the_whole_table(admin_client):
    add_calls(5, error_code=50001)
    _page, queries = get(admin_client, CALLS)
    statements = [query["sql"].upper() for query in queries.captured_queries]
    assert not [sql for sql in statements if "DISTINCT" in sql or "MIN(" in sql]


# ----------------------------------------------------------------------------------------------------------------
# The owner filter


def test_owner_filter_lists_the_groups_of_the_owners_matching_part_of_a_userid(admin_client, make_group):
    alice, alicia = ChatUser.objects.create(user_id="alice"), ChatUser.objects.create(user_id="alice2")
    make_group(alice, "work")
    make_group(alice, "family")
    make_group(alicia, "work")
    response, _queries = get(admin_client, GROUPS, {"owner": "alice"})
    assert listed(response) == ["family (alice)", "work (alice)", "work (alice2)"]
    response, _queries = get(admin_client, GROUPS, {"owner": "LICE2"})
    assert listed(response) == ["work (alice2)"]


def test_owner_filter_is_a_box_not_a_list_of_every_owner(admin_client, make_group):
    add_groups(make_group, 3)
    html = get(admin_client, GROUPS)[0].content.decode()
    assert '<input type="search" name="owner" value=""' in html
    assert "owner__id__exact" not in html and "?owner=owner_1" not in html


def test_owner_filter_box_sends_the_other_filters_and_the_search_along(admin_client):
    html = get(admin_client, GROUPS, {"state": "failed", "q": "work", "owner": "alice"})[0].content.decode()
    form = html[html.index('<form method="get" class="input-filter">'):]
    form = form[: form.index("</form>")]
    assert '<input type="hidden" name="state" value="failed">' in form
    assert '<input type="hidden" name="q" value="work">' in form
    assert 'name="owner" value="alice"' in form


def test_state_filter_still_hides_deleted_groups_by_default(admin_client, owner, make_group):
    make_group(owner, "kept")
    make_group(owner, "gone", state=ContactGroup.State.DELETED)
    assert listed(get(admin_client, GROUPS)[0]) == ["kept (user_0001)"]
    assert listed(get(admin_client, GROUPS, {"state": "all"})[0]) == ["gone (user_0001)", "kept (user_0001)"]


# ----------------------------------------------------------------------------------------------------------------
# Search


def test_search_by_owner_takes_any_part_of_the_userid_or_nickname(admin_client, make_group):
    make_group(ChatUser.objects.create(user_id="user_1"), "one")
    make_group(ChatUser.objects.create(user_id="user_10", nickname="王小明"), "ten")
    make_group(ChatUser.objects.create(user_id="other"), "other")
    assert listed(get(admin_client, GROUPS, {"q": "user_1"})[0]) == ["one (user_1)", "ten (user_10)"]
    assert listed(get(admin_client, GROUPS, {"q": "SER_10"})[0]) == ["ten (user_10)"]
    assert listed(get(admin_client, GROUPS, {"q": "小明"})[0]) == []  # two characters: the start only
    assert listed(get(admin_client, GROUPS, {"q": "王小明"})[0]) == ["ten (user_10)"]


def test_search_by_name_takes_any_part_in_any_case(admin_client, owner, make_group):
    make_group(owner, "Family photos")
    make_group(owner, "my family")
    make_group(owner, "friends")
    assert listed(get(admin_client, GROUPS, {"q": "family"})[0]) == ["Family photos (user_0001)",
                                                                     "my family (user_0001)"]
    assert listed(get(admin_client, GROUPS, {"q": "MILY PH"})[0]) == ["Family photos (user_0001)"]


def test_search_by_conversation_takes_the_exact_userid_or_any_part_of_a_group_id(admin_client, owner, make_group):
    make_group(owner, "a", [(C2C, "user_42")])
    make_group(owner, "b", [(C2C, "user_421")])
    make_group(owner, "c", [(GROUP, "@TGS#42")])
    make_group(owner, "d", [(GROUP, "@TGS#1B2AUI7RZ")])
    assert listed(get(admin_client, GROUPS, {"q": "user_42"})[0]) == ["a (user_0001)"]
    assert listed(get(admin_client, GROUPS, {"q": "ser_42"})[0]) == []  # a UserID is found whole
    assert listed(get(admin_client, GROUPS, {"q": "@TGS#42"})[0]) == ["c (user_0001)"]
    assert listed(get(admin_client, GROUPS, {"q": "tgs#"})[0]) == ["c (user_0001)", "d (user_0001)"]
    assert listed(get(admin_client, GROUPS, {"q": "2aui"})[0]) == ["d (user_0001)"]
    assert listed(get(admin_client, GROUPS, {"q": "42"})[0]) == []  # two characters: a group id is found whole


def test_search_lists_a_group_once_when_it_matches_in_several_ways(admin_client, make_group):
    owner = ChatUser.objects.create(user_id="user_7")
    make_group(owner, "user_7 chats", [(C2C, "user_7"), (GROUP, "user_7")])
    response = get(admin_client, GROUPS, {"q": "user_7"})[0]
    assert response.context["cl"].result_count == 1
    assert listed(response) == ["user_7 chats (user_7)"]


def test_search_box_says_what_it_searches(admin_client):
    html = get(admin_client, GROUPS)[0].content.decode()
    assert "groups whose name contains the text" in html
    assert "a group conversation whose id contains it" in html
    assert "A text of one or two characters is looked for in every group&#x27;s name, which takes longer" in html


# ----------------------------------------------------------------------------------------------------------------
# Chat call filters


def test_chat_calls_filter_by_the_errorcode_typed_in(admin_client):
    add_calls(2, error_code=50001)
    add_calls(3, start=2)
    assert len(get(admin_client, CALLS, {"error_code": "50001"})[0].context["cl"].result_list) == 2
    assert len(get(admin_client, CALLS, {"error_code": "not a code"})[0].context["cl"].result_list) == 0


def test_chat_calls_filter_by_age(admin_client):
    now = timezone.now()
    for hours in (2, 50):
        SyncAttempt.objects.create(owner_user_id=f"{hours}h", operation="get_contact_group", request={},
                                   outcome="ok", started_at=now - timedelta(hours=hours), duration_ms=5)
    response = get(admin_client, CALLS, {"started": "day"})[0]
    assert [attempt.owner_user_id for attempt in response.context["cl"].result_list] == ["2h"]


def test_chat_call_search_takes_the_exact_owner_userid(admin_client):
    add_calls(6)
    response = get(admin_client, CALLS, {"q": "owner_1"})[0]
    assert {attempt.owner_user_id for attempt in response.context["cl"].result_list} == {"owner_1"}
    assert len(response.context["cl"].result_list) == 2


def test_chat_call_count_of_the_whole_table_is_postgresqls_estimate(admin_client, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("only PostgreSQL keeps an estimate of a table's rows")
    add_calls(5)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contactgroups_syncattempt")
    SyncAttempt.objects.filter(owner_user_id="owner_0").delete()
    monkeypatch.setattr(EstimatedCountPaginator, "EXACT_BELOW", 1)
    assert get(admin_client, CALLS)[0].context["cl"].result_count == 5
    assert get(admin_client, CALLS, {"outcome": "ok"})[0].context["cl"].result_count == 3


def test_chat_call_count_of_a_filtered_list_is_exact(admin_client, monkeypatch):
    monkeypatch.setattr(EstimatedCountPaginator, "EXACT_BELOW", 1)
    add_calls(5, error_code=50001)
    add_calls(2, start=5)
    assert get(admin_client, CALLS, {"error_code": "50001"})[0].context["cl"].result_count == 5


# ----------------------------------------------------------------------------------------------------------------
# The counts on the group row


def counts(group) -> tuple[int, int, int]:
    group.refresh_from_db()
    return (group.conversation_count, group.accepted_count, group.refused_count)


def test_changelist_shows_the_counts_kept_on_the_group(admin_client, owner, make_group):
    group = make_group(owner, "work", [(C2C, "a"), (C2C, "b"), (C2C, "c")])
    ContactItem.objects.filter(group=group, to_account="a").update(result_code=0)
    ContactItem.objects.filter(group=group, to_account="b").update(result_code=50001)
    group.refresh_counts()
    html = get(admin_client, GROUPS)[0].content.decode()
    assert '<td class="field-conversation_count">3</td>' in html
    assert '<td class="field-accepted_count">1</td>' in html
    assert '<td class="field-refused"><strong class="refused">1</strong></td>' in html


def test_counts_follow_an_admin_save(admin_client, owner, make_group):
    group = make_group(owner, "work", [(C2C, "user_0002"), (C2C, "user_0003")])
    kept, dropped = group.items.order_by("id")
    ContactItem.objects.filter(pk=kept.pk).update(result_code=0)
    ContactItem.objects.filter(pk=dropped.pk).update(result_code=50001)
    group.refresh_counts()
    response = admin_client.post(change_url(group), group_form_data(
        name="work", existing=[kept, dropped], deleted={dropped.pk},
        items=[(C2C, "user_0004", ""), (GROUP, "", "@TGS#1")]))
    assert response.status_code == 302
    assert counts(group) == (3, 1, 0)


@pytest.fixture
def alice(owner, chat_sandbox):
    chat_sandbox.import_accounts(owner.user_id, "user_0002", "user_0003")
    return owner


def test_counts_follow_a_sync_with_a_refused_conversation(alice, make_group, staff):
    group = make_group(alice, "work", [(C2C, "user_0002"), (C2C, "user_9"), (GROUP, "@TGS#1")])
    assert counts(group) == (3, 0, 0)
    sync.sync_group(group.pk, staff.pk)
    assert counts(group) == (3, 2, 1)


def test_counts_follow_a_pull(alice, make_group, chat_sandbox, staff):
    group = make_group(alice, "work", [(C2C, "user_0002")])
    sync.sync_group(group.pk, staff.pk)
    chat_sandbox.post("recentcontact/update_contact_group", {
        "From_Account": alice.user_id, "UpdateType": 1, "UpdateGroup": {
            "UpdateGroupType": 2, "OldGroupName": "work",
            "ContactUpdateItem": [{"ContactOptType": 1, "ContactItem": {"Type": C2C, "To_Account": "user_0003"}}],
        },
    })
    sync.pull_owner(alice.pk, staff.pk)
    assert counts(group) == (2, 2, 0)


def test_counts_of_a_group_adopted_from_chat(alice, chat_sandbox, staff):
    chat_sandbox.post("recentcontact/create_contact_group", {
        "From_Account": alice.user_id,
        "GroupContactItem": [{"GroupName": "from the app", "ContactItem": [
            {"Type": C2C, "To_Account": "user_0002"}, {"Type": GROUP, "ToGroupId": "@TGS#1"}]}],
    })
    sync.pull_owner(alice.pk, staff.pk)
    assert counts(ContactGroup.objects.get(name="from the app")) == (2, 2, 0)


def test_counts_of_a_group_imported_from_csv(owner, staff):
    csv = "owner,group_name,type,target\nuser_0001,imported,1,user_0002\nuser_0001,imported,2,@TGS#1\n"
    plan = plan_group_import(csv.encode(), "groups.csv")
    apply_group_import(plan, staff.pk, "groups.csv", queue_sync=False)
    assert counts(ContactGroup.objects.get(name="imported")) == (2, 0, 0)


# ----------------------------------------------------------------------------------------------------------------
# The group page's inputs


@pytest.mark.parametrize(("fast", "django_widget", "value", "attrs"), [
    (FastTextInput(attrs={"maxlength": 32}), AdminTextInputWidget(attrs={"maxlength": 32}), 'a"<b',
     {"id": "id_items-0-to_account", "aria-describedby": "help"}),
    (FastTextInput(), AdminTextInputWidget(), None, {"disabled": True}),
    (FastSelect(choices=[(1, "One-to-one"), (2, "Group <chat>")]),
     forms.Select(choices=[(1, "One-to-one"), (2, "Group <chat>")]), 2, {"id": "id_items-0-type"}),
    (FastHiddenInput(), forms.HiddenInput(), 17, {"id": "id_items-0-id"}),
    (FastCheckboxInput(), forms.CheckboxInput(), True, {"id": "id_items-0-DELETE"}),
    (FastCheckboxInput(), forms.CheckboxInput(), False, {}),
], ids=["text", "text disabled", "select", "hidden", "checkbox checked", "checkbox"])
def test_group_page_inputs_are_the_html_djangos_widgets_write(fast, django_widget, value, attrs):
    name = "items-0-field"
    assert parse_html(fast.render(name, value, attrs)) == parse_html(django_widget.render(name, value, attrs))


def group_reads(queries) -> list[str]:
    """The statements among ``queries`` that read the groups' table."""
    table = ContactGroup._meta.db_table
    return [query["sql"] for query in queries.captured_queries
            if query["sql"].startswith("SELECT") and f'FROM "{table}"' in query["sql"]]


@pytest.mark.parametrize("state", [ContactGroup.State.SYNCED, ContactGroup.State.DELETED])
def test_the_group_page_reads_the_group_once(admin_client, owner, make_group, state):
    group = make_group(owner, "work", [(C2C, "peer_1"), (C2C, "peer_2")])
    ContactGroup.objects.filter(pk=group.pk).update(state=state)
    get(admin_client, change_url(group))  # the first page of a process also caches the content types
    page, queries = get(admin_client, change_url(group))
    assert 'value="peer_2"' in page.content.decode() or "peer_2" in page.content.decode()
    assert len(group_reads(queries)) == 1, group_reads(queries)
