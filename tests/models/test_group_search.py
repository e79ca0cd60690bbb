"""Finding groups by any part of the name and of a group conversation's id (ContactGroup.objects.matching), in the
group list's search box, with what the page says of a text too short for the trigram indexes (issue 23, Search).

Runs on the database of the test run (SQLite, or PostgreSQL with DATABASE_URL). bench/group_search.py times it on
1,000,000 groups.
"""

import html
import random

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contactgroups.admin import paging, search
from contactgroups.chat import protocol
from contactgroups.indexes import GROUP_ID_SEARCH, GROUP_NAME_SEARCH
from contactgroups.models import ChatUser, ContactGroup, ContactItem

pytestmark = pytest.mark.django_db

GROUPS = reverse("admin:contactgroups_contactgroup_changelist")
C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP


def found(text) -> list[str]:
    return sorted(ContactGroup.objects.matching(text).values_list("name", flat=True))


def listed(response) -> list[str]:
    return sorted(group.name for group in response.context["cl"].result_list)


def page_text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def groups(make_group):
    owner = ChatUser.objects.create(user_id="cs_zhang_0001", nickname="张三丰")
    other = ChatUser.objects.create(user_id="li_0002", nickname="Li")
    make_group(owner, "Work 工作", [(GROUP, "@TGS#B001RZ2AUI7"), (C2C, "user_42")])
    make_group(owner, "Launch 2026", [(GROUP, "@TGS#2C7QX")])
    make_group(other, "family", [(C2C, "user_421")])
    make_group(other, '50% "off" a_b*c AND NEAR(x)')
    make_group(other, "old work", state=ContactGroup.State.DELETED)


# ----------------------------------------------------------------------------------------------------------------
# The rule


@pytest.mark.parametrize(("text", "names"), [
    ("ork", ["Work 工作", "old work"]),  # inside a name, in any case
    ("WORK", ["Work 工作", "old work"]),
    ("工作", ["Work 工作"]),  # two Chinese characters inside a name
    ("k 工作", ["Work 工作"]),
    ("TGS#B001", ["Work 工作"]),  # inside a group conversation's id, without its @
    ("rz2aui", ["Work 工作"]),
    ("20", ["Launch 2026"]),  # two characters inside a name
    ("unch 2", ["Launch 2026"]),
    ("张三", ["Launch 2026", "Work 工作"]),  # the start of the owner's nickname
    ("zhang_00", ["Launch 2026", "Work 工作"]),  # part of the owner's UserID
    ("user_42", ["Work 工作"]),  # a one-to-one conversation, exactly
    ("  amil  ", ["family"]),  # the text is stripped
    ("nothing here", []),
], ids=["part", "case", "Chinese", "mixed", "group id part", "group id case", "two digits", "name with a space",
        "owner nickname", "owner UserID", "UserID", "stripped", "miss"])
def test_groups_whose_name_or_group_conversation_id_contains_the_text(groups, text, names):
    assert found(text) == names
    # The same rule tested on each group read, as the list's page of a common word reads it.
    assert sorted(ContactGroup.objects.matching(text, each_row=True).values_list("name", flat=True)) == names


@pytest.mark.parametrize("text", ["éco", "ÉCO", "Éco", "cole", "ÉCOLE 工"])
def test_the_rule_tested_on_each_row_folds_the_case_of_every_letter_as_the_index_does(make_group, text):
    owner = ChatUser.objects.create(user_id="zz_owner")
    for name in ["ÉCOLE 工作", "école", "Ecole"]:
        make_group(owner, name)
    assert (sorted(ContactGroup.objects.matching(text, each_row=True).values_list("name", flat=True))
            == found(text))


@pytest.mark.parametrize(("text", "names"), [
    ("ser_4", []),  # a one-to-one conversation's UserID is found whole
    ("#2", []),  # two characters: a group conversation's id is found whole
    ("丰", []),  # one character: the start of the owner's UserID or nickname only
    ("张", ["Launch 2026", "Work 工作"]),
])
def test_what_the_search_finds_only_whole_or_at_the_start(groups, text, names):
    assert found(text) == names


@pytest.mark.parametrize("text", ["50%", "% ", "a_b", "_b*", '"off"', 'f" a', "AND", "AND NEAR(x)", "*c A"])
def test_quotes_wildcards_and_operators_in_the_text_match_themselves(groups, text):
    assert found(text) == ['50% "off" a_b*c AND NEAR(x)']


@pytest.mark.parametrize("text", ["", "  ", "%", "_", "%%%", '"', "*", "a\x00b", "\ud800", "x" * 500])
def test_any_text_is_searched_without_an_error(groups, text):
    assert found(text) == sorted(name for name in ContactGroup.objects.values_list("name", flat=True)
                                 if text.strip() and "\x00" not in text and text.strip().lower() in name.lower())


def test_matching_finds_what_a_scan_of_every_name_and_group_id_finds(make_group):
    rng = random.Random(23)
    alphabet = "abAB_%#@01工作 "
    owner = ChatUser.objects.create(user_id="zz_owner")
    for n in range(150):
        name = f"{n}:" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
        make_group(owner, name, [(GROUP, "@TGS#" + "".join(rng.choice("AB01#") for _ in range(rng.randint(1, 6))))])
    rows = [(group.name, [item.to_group_id for item in group.items.all()])
            for group in ContactGroup.objects.prefetch_related("items")]
    for _ in range(150):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4))).strip()
        if not text:
            continue
        expected = sorted(name for name, ids in rows if text.lower() in name.lower()
                          or any(text == i if len(text) < 3 else text.lower() in i.lower() for i in ids))
        assert found(text) == expected, text


def test_the_search_follows_every_insert_update_and_delete(make_group):
    owner = ChatUser.objects.create(user_id="zz_owner")
    group = make_group(owner, "Support 客服", [(GROUP, "@TGS#OLD123")])
    assert found("客服") == found("port 客") == ["Support 客服"]
    ContactGroup.objects.filter(pk=group.pk).update(name="Sales 销售组")
    assert found("port") == []
    assert found("销售组") == ["Sales 销售组"]
    ContactItem.objects.filter(group=group).update(to_group_id="@TGS#NEW456")
    assert found("OLD123") == []
    assert found("new45") == ["Sales 销售组"]
    ContactItem.objects.filter(group=group).delete()
    assert found("new45") == []
    group.delete()
    assert found("销售组") == []


def test_the_search_uses_the_trigram_indexes(groups):
    # Enough rows, with the planner's statistics, that reading a whole table would cost more than the indexes.
    owner = ChatUser.objects.create(user_id="zz_owner")
    made = ContactGroup.objects.bulk_create(ContactGroup(owner=owner, name=f"group {n:05d}") for n in range(3000))
    ContactItem.objects.bulk_create(ContactItem(group=group, type=GROUP, to_group_id=f"@TGS#{group.pk:09d}")
                                    for group in made)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        if connection.vendor == "postgresql":
            # What a VACUUM (autovacuum) does: the rows just written into the GIN indexes' pending lists, which
            # the planner counts as read whole, moved into the indexes proper.
            for index in (*GROUP_NAME_SEARCH.postgresql_indexes, *GROUP_ID_SEARCH.postgresql_indexes):
                cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [index])
            # A few thousand rows still fit in a few pages, which PostgreSQL would read whole.
            cursor.execute("SET LOCAL enable_seqscan = off")
    plan = ContactGroup.objects.matching("RZ2AUI").order_by().explain()
    if connection.vendor == "sqlite":
        for search in (GROUP_NAME_SEARCH, GROUP_ID_SEARCH):
            assert f"SCAN {search.sqlite_table} VIRTUAL TABLE INDEX 0:M" in plan, plan
        assert "SCAN contactgroups_contactgroup\n" not in plan + "\n", plan
        assert "SCAN contactgroups_contactitem\n" not in plan + "\n", plan
    else:
        for index in (*GROUP_NAME_SEARCH.postgresql_indexes, *GROUP_ID_SEARCH.postgresql_indexes):
            assert f"Bitmap Index Scan on {index}" in plan, plan
    assert found("RZ2AUI") == ["Work 工作"]


@pytest.mark.django_db(transaction=True)
def test_a_migrate_builds_the_sqlite_search_again_when_a_table_lost_its_triggers():
    if connection.vendor == "sqlite":
        # What SQLite does to the triggers when a migration rebuilds the groups' table to alter it.
        with connection.cursor() as cursor:
            for trigger in GROUP_NAME_SEARCH.sqlite_triggers:
                cursor.execute(f"DROP TRIGGER {trigger}")
    owner = ChatUser.objects.create(user_id="zz_owner")
    ContactGroup.objects.create(owner=owner, name="Night shift 夜班")
    call_command("migrate", verbosity=0)
    assert found("t shift 夜") == ["Night shift 夜班"]


@pytest.mark.django_db(transaction=True)
def test_the_search_migration_goes_back_and_forward():
    owner = ChatUser.objects.create(user_id="zz_owner")
    ContactGroup.objects.create(owner=owner, name="Before 之前的")
    call_command("migrate", "contactgroups", "0020", verbosity=0)
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        indexes = connection.introspection.get_constraints(cursor, GROUP_NAME_SEARCH.table)
    assert GROUP_NAME_SEARCH.sqlite_table not in tables and GROUP_ID_SEARCH.sqlite_table not in tables
    assert not set(GROUP_NAME_SEARCH.postgresql_indexes) & set(indexes)
    # Added while there is no search index: the migration indexes it.
    ContactGroup.objects.create(owner=owner, name="While 期间的")
    call_command("migrate", verbosity=0)
    assert found("fore 之前") == ["Before 之前的"]
    assert found("ile 期间") == ["While 期间的"]


# ----------------------------------------------------------------------------------------------------------------
# The page


@pytest.mark.parametrize(("text", "short"), [("ork", False), ("工作", True), ("TGS#B001", False), ("k 工作", False)])
def test_the_group_list_finds_the_group_by_part_of_its_name_or_group_id(admin_client, groups, text, short):
    response = admin_client.get(GROUPS, {"q": text})
    assert listed(response) == ["Work 工作"]
    assert ("fewer than three characters" in page_text(response)) is short


def test_a_short_text_is_found_and_the_page_says_how_it_was_searched(admin_client, groups):
    response = admin_client.get(GROUPS, {"q": "20"})
    assert listed(response) == ["Launch 2026"]
    assert ("“20” has fewer than three characters, so every group's name was read to find it (slower on a long "
            "list); owners were found by the start of the UserID or nickname, group conversations only by their "
            "whole id. Three characters or more are found anywhere, quickly.") in page_text(response)


def test_the_page_says_it_in_chinese_for_a_chinese_reader(admin_client, groups):
    response = admin_client.get(GROUPS, {"q": "工作"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert listed(response) == ["Work 工作"]
    page = page_text(response)
    assert "“工作”不足三个字符" in page
    assert "查找名称包含该文字的会话分组" in page
    assert "fewer than three" not in page and "Finds groups" not in page


def test_the_deleted_groups_a_search_leaves_out_are_counted_by_part_of_the_name(admin_client, groups):
    response = admin_client.get(GROUPS, {"q": "ork"})
    assert listed(response) == ["Work 工作"]
    assert "1 deleted group also matches;" in page_text(response)


@pytest.mark.parametrize(("language", "said"), [("en", "More than 15 conversation groups"),
                                                ("zh-hans", "超过 15 个会话分组")])
def test_a_common_word_is_counted_up_to_a_cap_and_the_page_says_more_than(admin_client, make_group, monkeypatch,
                                                                          language, said):
    """Pages of 10, counted up to 5 past the page asked for: 30 groups named with "work" are never all counted."""
    monkeypatch.setattr(admin.site._registry[ContactGroup], "list_per_page", 10)
    monkeypatch.setattr(paging, "COUNTED_PAST", 5)
    owner = ChatUser.objects.create(user_id="cs_zhang_0001")
    for n in range(30):
        make_group(owner, f"Work {n:02d}")
    make_group(owner, "Family")
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(GROUPS, {"q": "ork"}, HTTP_ACCEPT_LANGUAGE=language)
    assert len(response.context["cl"].result_list) == 10
    assert said in " ".join(page_text(response).split())
    counts = [query["sql"] for query in queries if "COUNT(" in query["sql"].upper() and "LIMIT 16" in query["sql"]]
    assert counts, "the search's count stops at the page and 5 more"
    last = admin_client.get(GROUPS, {"q": "ork", "p": "3"}, HTTP_ACCEPT_LANGUAGE=language)
    assert last.context["cl"].result_count == 30 and "More than" not in page_text(last)
    assert "超过" not in page_text(last)


def test_a_common_word_s_pages_are_read_from_the_first_groups_in_the_list_s_order(admin_client, make_group,
                                                                                  monkeypatch):
    """Pages of 10, counted up to 5 past the page: the page reads the list's first 15 x READ_PER_ROW groups in its
    order, testing each, and lists what the whole search would, page after page; a rare text and the export or
    an action on every match still read the whole search."""
    monkeypatch.setattr(admin.site._registry[ContactGroup], "list_per_page", 10)
    monkeypatch.setattr(paging, "COUNTED_PAST", 5)
    owner = ChatUser.objects.create(user_id="cs_zhang_0001")
    for n in range(60):
        make_group(owner, f"Work {n:02d}" if n % 3 else f"Family {n:02d}")
    make_group(owner, "old work", state=ContactGroup.State.DELETED)
    whole = list(ContactGroup.objects.exclude(state=ContactGroup.State.DELETED).matching("ork")
                 .order_by("-updated_at", "-id").values_list("pk", flat=True))
    assert len(whole) == 40
    for page in [1, 2, 3, 4]:
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(GROUPS, {"q": "ork", "p": str(page)})
        cl = response.context["cl"]
        assert [group.pk for group in cl.result_list] == whole[(page - 1) * 10:page * 10]
        read_in_order = f"LIMIT 1 OFFSET {(page * 10 + 5) * search.READ_PER_ROW - 1}"
        assert any(read_in_order in query["sql"] for query in queries), page
        assert cl.result_count == min(page * 10 + 5, 40) and cl.paginator.capped is (page < 4)
        assert cl.queryset.count() == 40  # actions and the export: every match
    assert "1 deleted group also matches;" in page_text(response)
    rare = admin_client.get(GROUPS, {"q": "rk 07"})
    assert [group.name for group in rare.context["cl"].result_list] == ["Work 07"]
