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
