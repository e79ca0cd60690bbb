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
