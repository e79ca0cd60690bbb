"""Finding Chat users by any part of the UserID or the nickname (ChatUser.objects.matching), and the pages that
search with it: the Chat users' search box, the owner autocomplete, the group list's search box and owner filter.

Runs on the database of the test run (SQLite, or PostgreSQL with DATABASE_URL). bench/user_search.py times it on
1,000,000 users.
"""

import html
import random

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from contactgroups.indexes import SQLITE_USER_SEARCH_TRIGGERS, USER_SEARCH_TABLE
from contactgroups.models import ChatUser, ContactGroup

pytestmark = pytest.mark.django_db

USERS = reverse("admin:contactgroups_chatuser_changelist")
GROUPS = reverse("admin:contactgroups_contactgroup_changelist")
AUTOCOMPLETE = reverse("admin:autocomplete")


def found(text) -> list[str]:
    return sorted(ChatUser.objects.matching(text).values_list("user_id", flat=True))


@pytest.fixture
def people(db):
    ChatUser.objects.bulk_create([
        ChatUser(user_id="alice_0001", nickname="Alice Wonder"),
        ChatUser(user_id="bob_0002", nickname="Robert"),
        ChatUser(user_id="carol_0003", nickname="张三丰大侠"),
        ChatUser(user_id="dave_0004", nickname=""),
        ChatUser(user_id="eve_0005", nickname='50% off "sale" a_b*c AND NEAR(x)'),
    ])


# ----------------------------------------------------------------------------------------------------------------
# The rule


@pytest.mark.parametrize(("text", "users"), [
    ("ICE_00", ["alice_0001"]),  # inside the UserID, another case
    ("wonDER", ["alice_0001"]),  # inside the nickname, another case
    ("三丰大", ["carol_0003"]),  # inside a Chinese nickname
    ("丰大侠", ["carol_0003"]),
    ("_000", ["alice_0001", "bob_0002", "carol_0003", "dave_0004", "eve_0005"]),
    ("  obert  ", ["bob_0002"]),  # the text is stripped
    ("nobody here", []),
    ("alice_0001", ["alice_0001"]),  # the whole UserID
], ids=["UserID part", "nickname part", "Chinese part", "Chinese end", "common part", "stripped", "miss", "whole"])
def test_users_whose_user_id_or_nickname_contains_the_text_in_any_case(people, text, users):
    assert found(text) == users


@pytest.mark.parametrize(("text", "users"), [
    ("AL", ["alice_0001"]),  # the start of a UserID, another case
    ("ro", ["bob_0002"]),  # the start of a nickname
    ("张", ["carol_0003"]),  # a Chinese surname: the start of a nickname
    ("张三", ["carol_0003"]),
    ("li", []),  # inside a UserID, but not at its start
    ("三丰", []),  # inside a nickname, but not at its start
], ids=["UserID start", "nickname start", "one Chinese character", "two Chinese characters", "inside a UserID",
        "inside a nickname"])
def test_a_text_of_one_or_two_characters_finds_the_names_that_start_with_it(people, text, users):
    assert found(text) == users


@pytest.mark.parametrize("text", [
    "50%", "% off", "a_b", "_b*", '"sale"', 'e" a', "AND", "AND NEAR(x)", "NEAR(x)", "*c A",
])
def test_quotes_wildcards_and_operators_in_the_text_match_themselves(people, text):
    assert found(text) == ["eve_0005"]


@pytest.mark.parametrize("text", [
    "", "   ", "%", "_", "%%%", "___", '"', '"""', "*", "***", "AND", "OR", "NOT x", "NEAR(", "(", ")", "a:b",
    "^ab", "\\", "\\%\\", "'; DROP TABLE x; --", "a\x00b", "\x00", "\ud800", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "x" * 500,
])
def test_any_text_is_searched_without_an_error_and_matches_only_what_contains_it(people, text):
    expected = sorted(user.user_id for user in ChatUser.objects.all() if naive_match(user, text))
    assert found(text) == expected


def naive_match(user, text: str) -> bool:
    """The rule, read from Python's own strings: what ``matching`` must find."""
    text = text.strip()
    if not text or "\x00" in text:
        return False
    names = [user.user_id.lower(), user.nickname.lower()]
    if len(text) < 3:
        return any(name.startswith(text.lower()) for name in names)
    return any(text.lower() in name for name in names)


def test_matching_finds_what_a_scan_of_every_user_finds():
    rng = random.Random(12)
    alphabet = "abAB_%01张三丰 "
    ChatUser.objects.bulk_create(
        ChatUser(user_id=f"u{n}_" + "".join(rng.choice("abAB_01") for _ in range(rng.randint(1, 8))),
                 nickname="".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10))))
        for n in range(300)
    )
    users = list(ChatUser.objects.all())
    for _ in range(150):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4)))
        assert found(text) == sorted(user.user_id for user in users if naive_match(user, text)), text


@pytest.mark.parametrize(("text", "any_user"), [("三丰大", True), ("张", True), ("nobody here", False), ("", False),
                                             ("%", False), ("a\x00b", False)])
def test_matches_any_says_whether_some_user_matches(people, text, any_user):
    assert ChatUser.objects.matches_any(text) is any_user


def test_matching_narrows_a_queryset_and_joins_other_filters(people):
    assert list(ChatUser.objects.filter(nickname="").matching("_000").values_list("user_id", flat=True)) == [
        "dave_0004"]
    groups = ContactGroup.objects.filter(owner__in=ChatUser.objects.matching("三丰大").values("pk"))
    assert list(groups) == []


# ----------------------------------------------------------------------------------------------------------------
# The index keeps in step with the table


def test_the_search_follows_every_insert_update_and_delete(db):
    user = ChatUser.objects.create(user_id="frank_0006", nickname="Frankie")
    assert found("ANKI") == ["frank_0006"]
    user.nickname = "李小龙"
    user.save()
    assert found("ANKI") == []
    assert found("李小龙") == ["frank_0006"]
    ChatUser.objects.filter(pk=user.pk).update(user_id="renamed_0006")
    assert found("frank") == []
    assert found("named_00") == ["renamed_0006"]
    ChatUser.objects.filter(pk=user.pk).update(import_state=ChatUser.ImportState.IMPORTED)  # no name changed
    assert found("小龙") == []  # two characters: the start only
    assert found("李小") == ["renamed_0006"]
    ChatUser.objects.bulk_create([ChatUser(user_id=f"bulk_{n}", nickname=f"批量{n}号") for n in range(3)])
    assert found("量1号") == ["bulk_1"]
    ChatUser.objects.filter(user_id="bulk_1").delete()
    assert found("量1号") == []
    user.delete()
    assert found("李小龙") == []
    assert found("bulk_") == ["bulk_0", "bulk_2"]


def test_the_search_uses_an_index_for_every_length_of_text(people):
    if connection.vendor == "sqlite":
        assert "VIRTUAL TABLE" in ChatUser.objects.matching("三丰大").explain()
        short = ChatUser.objects.matching("al").explain()
        assert "chatuser_user_id_prefix" in short and "chatuser_nickname_prefix" in short
    else:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # a table of five rows would be read whole anyway
        long = ChatUser.objects.matching("三丰大").order_by().explain()
        assert "chatuser_user_id_trigram" in long and "chatuser_nickname_trigram" in long
        short = ChatUser.objects.matching("al").explain()
        assert "chatuser_user_id_prefix" in short and "chatuser_nickname_prefix" in short


@pytest.mark.django_db(transaction=True)
def test_a_migrate_builds_the_search_again_when_sqlite_lost_its_triggers():
    if connection.vendor == "sqlite":
        # What SQLite does to the triggers when a migration rebuilds the Chat users' table to alter it.
        with connection.cursor() as cursor:
            for trigger in SQLITE_USER_SEARCH_TRIGGERS:
                cursor.execute(f"DROP TRIGGER {trigger}")
    ChatUser.objects.create(user_id="grace_0007", nickname="Grace Hopper")
    call_command("migrate", verbosity=0)
    assert found("HOPPER") == ["grace_0007"]
    ChatUser.objects.filter(user_id="grace_0007").update(nickname="Amazing Grace")
    assert found("HOPPER") == []
    assert found("mazing") == ["grace_0007"]


@pytest.mark.django_db(transaction=True)
def test_the_search_migration_goes_back_and_forward():
    ChatUser.objects.create(user_id="heidi_0008", nickname="海蒂")
    call_command("migrate", "contactgroups", "0008", verbosity=0)
    with connection.cursor() as cursor:
        assert USER_SEARCH_TABLE not in connection.introspection.table_names(cursor)
    # Added while there is no search index, as the model was then.
    then = MigrationExecutor(connection).loader.project_state(("contactgroups", "0008_drift")).apps
    then.get_model("contactgroups", "ChatUser").objects.create(user_id="ivan_0009", nickname="伊万诺夫")
    call_command("migrate", verbosity=0)
    assert found("di_00") == ["heidi_0008"]
    assert found("伊万诺") == ["ivan_0009"]


# ----------------------------------------------------------------------------------------------------------------
# The pages


def test_the_chat_users_search_box_finds_a_user_by_part_of_the_nickname(admin_client, people):
    response = admin_client.get(USERS, {"q": "丰大"})
    assert [user.user_id for user in response.context["cl"].result_list] == []
    response = admin_client.get(USERS, {"q": "三丰大"})
    assert [user.user_id for user in response.context["cl"].result_list] == ["carol_0003"]
    assert "contains the text, in any case" in response.content.decode()


def test_the_owner_autocomplete_finds_a_user_by_part_of_the_nickname(admin_client, people):
    response = admin_client.get(AUTOCOMPLETE, {"app_label": "contactgroups", "model_name": "contactgroup",
                                               "field_name": "owner", "term": "wonder"})
    assert response.status_code == 200
    assert [result["text"] for result in response.json()["results"]] == ["alice_0001 (Alice Wonder)"]


@pytest.fixture
def owned(people, make_group):
    carol = ChatUser.objects.get(user_id="carol_0003")
    make_group(carol, "work")
    make_group(carol, "family")
    make_group(carol, "old work", state=ContactGroup.State.DELETED)
    make_group(carol, "old family", state=ContactGroup.State.DELETED)
    make_group(ChatUser.objects.get(user_id="bob_0002"), "work")


def listed(response) -> list[str]:
    return sorted(str(group) for group in response.context["cl"].result_list)


def test_the_group_search_finds_the_groups_of_owners_matching_part_of_a_nickname(admin_client, owned):
    response = admin_client.get(GROUPS, {"q": "三丰大"})
    assert listed(response) == ["family (carol_0003)", "work (carol_0003)"]
    assert "groups of owners whose UserID or nickname contains it" in response.content.decode()
    # The search box's other lookups stay: names starting with the text.
    assert listed(admin_client.get(GROUPS, {"q": "wor"})) == ["work (bob_0002)", "work (carol_0003)"]


def test_the_group_search_says_how_many_deleted_groups_it_left_out_with_a_link(admin_client, owned):
    html = admin_client.get(GROUPS, {"q": "三丰大"}).content.decode()
    assert '2 deleted groups also match; <a href="?q=%E4%B8%89%E4%B8%B0%E5%A4%A7&amp;state=deleted">show them</a>' \
        in html
    shown = admin_client.get(GROUPS, {"q": "三丰大", "state": "deleted"})
    assert listed(shown) == ["old family (carol_0003)", "old work (carol_0003)"]
    assert "also match" not in shown.content.decode()
    assert "also match" not in admin_client.get(GROUPS, {"q": "三丰大", "state": "all"}).content.decode()
    assert "1 deleted group also matches; <a" in admin_client.get(GROUPS, {"q": "old w"}).content.decode()
    assert "also match" not in admin_client.get(GROUPS, {"q": "robert"}).content.decode()


def test_the_deleted_groups_note_counts_only_those_the_other_filters_keep(admin_client, owned):
    html = admin_client.get(GROUPS, {"q": "old", "owner": "bob_0002"}).content.decode()
    assert "also match" not in html
    html = admin_client.get(GROUPS, {"q": "old", "owner": "carol"}).content.decode()
    assert "2 deleted groups also match;" in html


def test_the_owner_filter_finds_groups_by_part_of_a_userid_or_nickname(admin_client, owned):
    assert listed(admin_client.get(GROUPS, {"owner": "ROL_00"})) == ["family (carol_0003)", "work (carol_0003)"]
    assert listed(admin_client.get(GROUPS, {"owner": "丰大侠"})) == ["family (carol_0003)", "work (carol_0003)"]
    assert listed(admin_client.get(GROUPS, {"owner": "rob"})) == ["work (bob_0002)"]
    response = admin_client.get(GROUPS, {"owner": "rob"})
    assert "By owner (part of UserID or nickname)" in response.content.decode()
    assert "No Chat user" not in response.content.decode()


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_the_owner_filter_says_when_no_chat_user_matches_and_what_was_searched(admin_client, owned):
    response = admin_client.get(GROUPS, {"owner": " nobody_9 "})
    assert listed(response) == []
    assert "No Chat user's UserID or nickname contains “nobody_9”, so no group is listed." in text(response)
    assert "No Chat user's UserID or nickname starts with “zz”" in text(admin_client.get(GROUPS, {"owner": "zz"}))
    # Said once, on that page only.
    assert "No Chat user" not in admin_client.get(GROUPS).content.decode()


def test_the_hint_and_the_note_are_in_chinese_for_a_chinese_reader(admin_client, owned):
    page = text(admin_client.get(GROUPS, {"owner": "nobody_9"}, HTTP_ACCEPT_LANGUAGE="zh-hans"))
    assert "没有 IM 用户的 UserID 或昵称包含“nobody_9”" in page
    page = text(admin_client.get(GROUPS, {"q": "三丰大"}, HTTP_ACCEPT_LANGUAGE="zh-hans"))
    assert "另有 2 个已删除的会话分组也匹配；" in page and ">显示它们</a>" in page
