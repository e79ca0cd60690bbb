"""Rows written before outcomes were stored as data keep reading after the migration."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from contactgroups import words

BEFORE = [("contactgroups", "0002_contactgroup_counts_and_indexes")]
AFTER = [("contactgroups", "0003_outcomes_as_data")]


@pytest.mark.django_db(transaction=True)
def test_old_sentences_are_kept_and_shown_as_they_are_and_a_sent_create_becomes_the_intent():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    owner = old.get_model("contactgroups", "ChatUser").objects.create(user_id="user_0001")
    Group = old.get_model("contactgroups", "ContactGroup")
    synced = Group.objects.create(owner=owner, name="work", state="synced", chat_group_id=5,
                                  last_sync_summary="Created in Chat as GroupId 5: 2 conversations added.",
                                  last_conflict="Conflict: user_0001 renamed the group in the app.")
    lost = Group.objects.create(owner=owner, name="renamed since", state="queued")
    old.get_model("contactgroups", "SyncAttempt").objects.create(
        group=lost, owner_user_id="user_0001", group_name="home", operation="create_contact_group", request={},
        outcome="no_answer", started_at="2026-01-01T00:00:00Z", duration_ms=10)

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("contactgroups", "ContactGroup")
    synced, lost = new.objects.get(pk=synced.pk), new.objects.get(pk=lost.pk)
    assert words.outcome_text(synced.last_outcome) == "Created in Chat as GroupId 5: 2 conversations added."
    assert words.conflicts_text(synced.conflicts, "user_0001") == "Conflict: user_0001 renamed the group in the app."
    assert lost.create_intent == "home" and lost.last_outcome == {}

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_each_group_chat_confirmed_gets_its_confirmed_state_as_its_first_version_and_back():
    before, after = [("contactgroups", "0008_drift")], [("contactgroups", "0009_group_versions")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    owner = old.get_model("contactgroups", "ChatUser").objects.create(user_id="user_0001")
    Group = old.get_model("contactgroups", "ContactGroup")
    synced = Group.objects.create(owner=owner, name="work", confirmed_name="work", chat_group_id=5, state="synced",
                                  confirmed_conversations=[[2, "@TGS#1"], [1, "user_0003"], [1, "user_0002"]],
                                  last_synced_at="2026-01-02T03:04:05Z")
    deleted = Group.objects.create(owner=owner, name="old", confirmed_name="old", chat_group_id=3, state="deleted",
                                   confirmed_conversations=[[1, "user_0002"]], delete_requested=True)
    Group.objects.create(owner=owner, name="draft", state="draft")

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    Version = executor.loader.project_state(after).apps.get_model("contactgroups", "GroupVersion")
    rows = {version.group_id: version for version in Version.objects.all()}
    assert set(rows) == {synced.pk, deleted.pk}
    first = rows[synced.pk]
    assert (first.name, first.chat_group_id, first.actor_id) == ("work", 5, None)
    assert first.conversations == [[1, "user_0002"], [1, "user_0003"], [2, "@TGS#1"]]
    assert first.confirmed_at.isoformat() == "2026-01-02T03:04:05+00:00"
    assert (rows[deleted.pk].name, rows[deleted.pk].conversations) == ("old", [[1, "user_0002"]])

    executor = MigrationExecutor(connection)
    executor.migrate(before)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_what_chat_confirmed_moves_to_each_groups_sync_row_and_back_with_every_value_kept():
    before, after = [("contactgroups", "0014_unreadable_outcome")], [("contactgroups", "0017_group_sync_columns_moved")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    owner = old.get_model("contactgroups", "ChatUser").objects.create(user_id="user_0001")
    Group = old.get_model("contactgroups", "ContactGroup")
    synced = Group.objects.create(
        owner=owner, name="work", state="synced", chat_group_id=5, confirmed_name="work",
        confirmed_conversations=[[1, "user_0002"], [2, "@TGS#1"]], create_intent="", last_error_code=None,
        last_synced_at="2026-01-02T03:04:05Z",
        last_outcome={"code": "created", "owner": "user_0001", "group_id": 5, "added": 2},
        conflicts=[{"code": "renamed_in_app", "app_name": "job", "staff_name": "work"}], sync_calls_done=1,
        sync_calls_planned=3, chat_reading={"group_id": 5, "name": "job", "conversations": [[1, "user_0002"]]},
        chat_read_at="2026-01-02T03:05:00Z", drift={"renamed_from": "work", "renamed_to": "job"},
        sync_lock_token="abc123", sync_lock_until="2026-01-02T03:06:00Z", conversation_count=2, accepted_count=2,
        last_staff_action=7)
    failed = Group.objects.create(owner=owner, name="home", state="failed", create_intent="home",
                                  last_error_code=50001, last_error_info="From_Account is not imported",
                                  last_outcome={"code": "stopped", "owner": "user_0001", "error": {"kind": "chat"}})
    draft = Group.objects.create(owner=owner, name="draft", state="draft")
    # Deleted in Chat, its GroupId since given to another group: a deleted group does not hold its GroupId.
    deleted = Group.objects.create(owner=owner, name="old", state="deleted", chat_group_id=5, confirmed_name="old",
                                   confirmed_conversations=[[1, "user_0003"]], delete_requested=True,
                                   last_outcome={"code": "deleted", "owner": "user_0001", "group_id": 5})
    pks = [synced.pk, failed.pk, draft.pk, deleted.pk]
    rows = {row["id"]: row for row in Group.objects.filter(pk__in=pks).values()}

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    Sync = new.get_model("contactgroups", "GroupSync")
    moved = {row["group_id"]: row for row in Sync.objects.values()}
    assert set(moved) == set(pks)
    renamed = {"sync_calls_done": "calls_done", "sync_calls_planned": "calls_planned", "sync_lock_token": "lock_token",
               "sync_lock_until": "lock_until"}
    for pk in pks:
        kept = {renamed.get(name, name): value for name, value in rows[pk].items()
                if renamed.get(name, name) in moved[pk] and name not in ("id", "owner_id")}
        assert {name: moved[pk][name] for name in kept} == kept
        assert (moved[pk]["owner_id"], moved[pk]["deleted"]) == (owner.pk, pk == deleted.pk)
    assert moved[synced.pk]["drift"] == {"renamed_from": "work", "renamed_to": "job"}
    left = new.get_model("contactgroups", "ContactGroup").objects.values().get(pk=synced.pk)
    assert (left["name"], left["state"], left["conversation_count"], left["last_staff_action"]) == ("work", "synced",
                                                                                                    2, 7)
    assert "chat_group_id" not in left and "drift" not in left

    executor = MigrationExecutor(connection)
    executor.migrate(before)
    back = executor.loader.project_state(before).apps.get_model("contactgroups", "ContactGroup")
    assert {row["id"]: row for row in back.objects.filter(pk__in=pks).values()} == rows
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
