"""The planner, on its own: no database, no HTTP. Unit cases, then properties over generated base, desired, remote."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contactgroups.chat import protocol
from contactgroups.chat.types import ContactGroups, Conversation, ConversationState, GroupInfo
from contactgroups.sync.plan import (
    LOST_CREATE,
    MISSING,
    NOT_READ,
    REMADE,
    Base,
    Conflict,
    Desired,
    Remote,
    locate,
    must_read,
    plan,
    remote_of,
    taken_names,
)

A, B, C, D = (Conversation(protocol.TYPE_C2C, f"user_{n}") for n in range(4))
G = Conversation(protocol.TYPE_GROUP, "@TGS#1")


def apply(steps, remote):
    """Chat after the plan, each call checked against the name Chat has at that moment: (name, set) or None."""
    if steps.deleted_in_app or (steps.deleted and steps.delete is None):
        return None  # nothing to send: the group is not in Chat
    if steps.create is not None:
        assert remote in (NOT_READ, MISSING), "a plan never creates a group Chat already has"
        name, held = steps.create.name, set(steps.create.conversations)
    else:
        name, held = remote.name, set(remote.conversations)
    if steps.rename is not None:
        assert steps.rename[0] == name
        name = steps.rename[1]
    for update in steps.updates:
        assert update.name == name
        held |= set(update.add)
        held -= set(update.remove)
    if steps.delete is not None:
        assert steps.delete == name
        return None
    return name, held


def mirror_after(steps, desired):
    """The mirror once the plan's adoptions are taken: (name, set)."""
    name = steps.adopt_name or desired.name
    return name, (set(desired.conversations) | steps.adopt_added) - steps.adopt_removed


# Unit cases --------------------------------------------------------------------------------------------------

def test_a_group_never_sent_is_created_without_reading_chat():
    steps = plan(Base(), Desired("work", (A, B)), NOT_READ)
    assert steps.create.name == "work" and steps.create.conversations == (A, B)
    assert steps.updates == () and steps.calls == 1


def test_a_create_carries_100_conversations_and_the_rest_follow_in_updates_of_100():
    many = tuple(Conversation(protocol.TYPE_C2C, f"peer_{n}") for n in range(250))
    steps = plan(Base(), Desired("big", many), NOT_READ)
    assert len(steps.create.conversations) == protocol.CONVERSATIONS_PER_REQUEST_MAX
    assert [len(update.add) for update in steps.updates] == [100, 50]
    assert all(update.name == "big" for update in steps.updates)


def test_a_rename_is_addressed_by_the_name_chat_has_and_updates_by_the_new_name():
    steps = plan(Base("work", frozenset({A})), Desired("office", (A, B)), Remote(7, "work", frozenset({A})))
    assert steps.rename == ("work", "office")
    assert steps.updates[0].name == "office" and steps.updates[0].add == (B,)
    assert steps.conflicts == ()


def test_adds_and_removes_share_one_update():
    steps = plan(Base("work", frozenset({A, B})), Desired("work", (A, C)), Remote(7, "work", frozenset({A, B})))
    assert len(steps.updates) == 1 and steps.updates[0].add == (C,) and steps.updates[0].remove == (B,)


def test_what_the_user_changed_in_the_app_is_adopted_not_undone():
    base = Base("work", frozenset({A, B}))
    remote = Remote(7, "job", frozenset({A, C}))  # renamed, B removed, C added, all in the app
    steps = plan(base, Desired("work", (A, B)), remote)
    assert steps.calls == 0
    assert steps.adopt_name == "job" and steps.adopt_added == {C} and steps.adopt_removed == {B}


def test_both_renamed_the_staff_name_wins_and_the_conflict_is_kept():
    steps = plan(Base("work"), Desired("office"), Remote(7, "job"))
    assert steps.rename == ("job", "office")
    assert steps.conflicts == (Conflict(Conflict.RENAMED_IN_APP, {"app_name": "job", "staff_name": "office"}),)


def test_a_group_deleted_in_the_app_and_unchanged_here_is_deleted_in_the_mirror():
    steps = plan(Base("work", frozenset({A})), Desired("work", (A,)), MISSING)
    assert steps.deleted_in_app and steps.calls == 0


def test_a_group_deleted_in_the_app_but_changed_here_is_created_again_with_the_conflict():
    steps = plan(Base("work", frozenset({A})), Desired("work", (A, B)), MISSING)
    assert steps.create == type(steps.create)("work", (A, B))
    assert steps.conflicts == (Conflict(Conflict.DELETED_IN_APP),)


def test_a_name_from_the_app_that_cannot_be_sent_is_never_created_or_renamed_to():
    steps = plan(Base(" padded ", frozenset({A})), Desired(" padded ", (A, B)), MISSING)
    assert steps.calls == 0 and not steps.deleted
    assert steps.conflicts == (Conflict(Conflict.NAME_NOT_SENDABLE, {"name": " padded "}),)
    steps = plan(Base("work", frozenset({A})), Desired("tab\there", (A, B)), Remote(3, "work", frozenset({A})))
    assert steps.rename is None and steps.updates[0].name == "work" and steps.updates[0].add == (B,)
    assert steps.conflicts == (Conflict(Conflict.NAME_NOT_SENDABLE, {"name": "tab\there"}),)


def test_a_create_whose_answer_was_lost_takes_chats_copy_as_the_base():
    remote = Remote(9, "work", frozenset({A}), from_lost_create=True)
    steps = plan(Base(), Desired("work", (A, B)), remote)
    assert steps.create is None and steps.group_id == 9
    assert steps.accepted == {A} and steps.updates[0].add == (B,)


def test_deleting_addresses_the_name_chat_has_and_says_when_the_user_renamed_it():
    steps = plan(Base("work"), Desired("work", delete=True), Remote(7, "job"))
    assert steps.delete == "job" and steps.deleted
    assert steps.conflicts == (Conflict(Conflict.RENAMED_BEFORE_DELETE, {"app_name": "job"}),)
    assert plan(Base("work"), Desired("work", delete=True), MISSING).conflicts == (Conflict(Conflict.ALREADY_GONE),)
    assert plan(Base(), Desired("work", delete=True), NOT_READ).calls == 0


@pytest.mark.parametrize(("group_id", "intent", "name", "former", "expected"), [
    (7, "", "work", "work", (7, "")),  # by GroupId
    (8, "", "work", "", (None, "")),  # that GroupId is gone and no create was sent since
    (8, "fresh", "work", "work", (9, LOST_CREATE)),  # gone, but a create sent since found it under the name it sent
    (None, "fresh", "renamed since", "", (9, LOST_CREATE)),  # the name the create sent, not the group's name now
    (None, "", "work", "", (7, LOST_CREATE)),  # an interrupted sync: by the group's own name
    (None, "", "elsewhere", "", (None, "")),
    (8, "", "office", "work", (7, REMADE)),  # gone; the app made a group under the name Chat confirmed
    (8, "", "work", "other", (None, "")),  # gone, and nothing is under the name Chat confirmed
])
def test_locate(group_id, intent, name, former, expected):
    groups = [GroupInfo("work", 7), GroupInfo("fresh", 9)]
    found, how = locate(groups, group_id, intent, name, former)
    assert ((found.group_id if found else None), how) == expected


def test_a_group_made_again_under_its_name_is_not_taken_when_another_group_of_the_mirror_has_it():
    groups = [GroupInfo("work", 7)]
    assert locate(groups, 8, "", "work", "work", claimed=frozenset({7})) == (None, "")
    chat = ContactGroups(groups, [ConversationState(A, (7,))])
    assert remote_of(chat, 8, "", "work", False, "work", frozenset({7})) is MISSING
    # Deleting never takes the group the user made again for the one the staff deleted.
    assert remote_of(chat, 8, "", "work", True, "work") is MISSING


def test_a_group_made_again_in_the_app_is_this_group_with_its_new_groupid_and_three_way_as_usual():
    chat = ContactGroups([GroupInfo("work", 7)], [ConversationState(A, (7,)), ConversationState(C, (7,))])
    remote = remote_of(chat, 3, "", "work", False, "work")
    assert remote == Remote(7, "work", frozenset({A, C}), remade_in_app=True)
    base = Base("work", frozenset({A, B}))
    # The staff added D: it is sent to the new group; the app's C stays and its leaving out B is adopted.
    steps = plan(base, Desired("work", (A, B, D)), remote)
    assert steps.group_id == 7 and steps.create is None and steps.rename is None
    assert [(u.add, u.remove) for u in steps.updates] == [((D,), ())]
    assert steps.adopt_added == {C} and steps.adopt_removed == {B}
    assert steps.conflicts == (Conflict(Conflict.REMADE_IN_APP, {"group_id": 7, "staff_changed": True}),)
    # Nothing changed here: the mirror takes the new group as the app made it.
    quiet = plan(base, Desired("work", (A, B)), remote)
    assert quiet.calls == 0 and quiet.group_id == 7 and not quiet.deleted_in_app
    assert quiet.conflicts == (Conflict(Conflict.REMADE_IN_APP, {"group_id": 7, "staff_changed": False}),)


def test_the_names_other_groups_have_in_chat_are_taken_but_the_groups_own_is_not():
    chat = ContactGroups([GroupInfo("work", 7), GroupInfo("home", 9)], [])
    remote = remote_of(chat, 7, "", "work", False)
    assert taken_names(chat, remote, ["home", "work", "job"]) == {"home": 9}
    assert taken_names(chat, MISSING, ["work"]) == {"work": 7}


def test_a_rename_to_a_name_another_group_has_in_chat_is_not_sent_and_the_rest_is():
    steps = plan(Base("work", frozenset({A})), Desired("home", (A, B)), Remote(7, "work", frozenset({A})),
                 {"home": 9})
    assert steps.rename is None
    assert [(u.name, u.add) for u in steps.updates] == [("work", (B,))]
    assert steps.conflicts == (Conflict(Conflict.NAME_TAKEN, {"name": "home", "group_id": 9, "create": False}),)


def test_a_group_deleted_in_the_app_is_not_created_again_under_a_name_another_group_has_now():
    # The user deleted "work" in the app and renamed another group to "work"; staff added B here.
    steps = plan(Base("work", frozenset({A})), Desired("work", (A, B)), MISSING, {"work": 9})
    assert steps.calls == 0 and not steps.deleted and not steps.deleted_in_app
    assert steps.conflicts == (Conflict(Conflict.NAME_TAKEN, {"name": "work", "group_id": 9, "create": True}),)
    # Unchanged here, it is deleted in the mirror as before: nothing would be sent.
    assert plan(Base("work", frozenset({A})), Desired("work", (A,)), MISSING, {"work": 9}).deleted_in_app


def test_what_chat_holds_is_read_into_remote_missing_or_nothing_to_read():
    chat = ContactGroups([GroupInfo("work", 7)], [ConversationState(A, (7,))])
    assert remote_of(chat, 7, "", "work", deleting=False) == Remote(7, "work", frozenset({A}))
    assert remote_of(chat, 8, "", "work", deleting=False) is MISSING
    assert remote_of(chat, None, "", "home", deleting=False) is MISSING  # an interrupted sync; create it
    assert remote_of(chat, None, "", "home", deleting=True) == NOT_READ  # nothing there to delete
    assert must_read(None, "", interrupted=False) is False
    assert all(must_read(*case) for case in [(7, "", False), (None, "work", False), (None, "", True)])


# Properties ---------------------------------------------------------------------------------------------------

conversations = st.builds(
    Conversation, st.sampled_from([protocol.TYPE_C2C, protocol.TYPE_GROUP]), st.sampled_from(["a", "b", "c", "d", "e"])
)
names = st.sampled_from(["work", "home", "job", "family"])
sets = st.frozensets(conversations, max_size=6)


@st.composite
def situations(draw):
    """A base Chat confirmed, the staff's desired state, and what Chat holds now (or MISSING / NOT_READ): a group
    found by its GroupId, after a lost create, or made again in the app under the name Chat confirmed."""
    confirmed = draw(st.booleans())
    base = Base(draw(names), draw(sets)) if confirmed else Base()
    desired = Desired(draw(names), tuple(draw(st.lists(conversations, unique=True, max_size=6))),
                      delete=draw(st.booleans()) and draw(st.booleans()))
    kind = draw(st.sampled_from(["remote", "remote", "missing"] + (["remade"] if confirmed else ["not read"])))
    if kind == "remote":
        remote = Remote(draw(st.integers(1, 5)), draw(names), draw(sets), from_lost_create=not confirmed)
    elif kind == "remade":  # the user deleted it in the app and made another under the name Chat confirmed
        remote = Remote(draw(st.integers(6, 9)), base.name, draw(sets), remade_in_app=True)
    else:
        remote = MISSING if kind == "missing" else NOT_READ
    return base, desired, remote


@settings(max_examples=600, deadline=None)
@given(situations())
def test_applying_the_plan_gives_the_desired_state_plus_what_was_adopted(situation):
    base, desired, remote = situation
    steps = plan(base, desired, remote)
    result = apply(steps, remote)
    if desired.delete or steps.deleted_in_app:
        assert result is None
    else:
        assert result == mirror_after(steps, desired)


@settings(max_examples=600, deadline=None)
@given(situations())
def test_a_plan_never_removes_what_the_user_added_in_the_app(situation):
    base, desired, remote = situation
    steps = plan(base, desired, remote)
    if isinstance(remote, Remote) and not desired.delete:
        # (After a lost create, Chat's copy came from that create, not from the app: see the unit case above.)
        added_in_app = set() if remote.from_lost_create else remote.conversations - base.conversations
        assert not any(set(update.remove) & added_in_app for update in steps.updates)
        assert steps.create is None
        # A group made again in the app is this group: its GroupId is taken, and the history says so.
        assert steps.group_id == remote.group_id
        assert (Conflict.REMADE_IN_APP in {c.code for c in steps.conflicts}) == remote.remade_in_app


@settings(max_examples=600, deadline=None)
@given(situations())
def test_planning_again_after_applying_a_plan_finds_nothing_to_do(situation):
    base, desired, remote = situation
    steps = plan(base, desired, remote)
    result = apply(steps, remote)
    if result is None:
        return
    name, held = result
    mirror_name, mirror = mirror_after(steps, desired)
    kept = tuple(c for c in desired.conversations if c in mirror)
    ordered = kept + tuple(sorted(mirror - set(kept)))
    again = plan(Base(name, frozenset(held)), Desired(mirror_name, ordered), Remote(1, name, frozenset(held)))
    assert again.calls == 0 and again.conflicts == ()
    assert again.adopt_name is None and not again.adopt_added and not again.adopt_removed


@settings(max_examples=600, deadline=None)
@given(situations(), st.frozensets(names, max_size=3))
def test_a_plan_never_sends_a_name_another_group_has_in_chat(situation, others):
    base, desired, remote = situation
    # Chat holds each name once: the group's own name in Chat is not another's.
    taken = {name: 20 + n for n, name in enumerate(sorted(others))
             if not (isinstance(remote, Remote) and name == remote.name)}
    steps = plan(base, desired, remote, taken)
    assert not names_sent(steps) & set(taken)
    # Held back, with the conflict, is exactly what the plan would send were the name free; updates go to the
    # name Chat has.
    held_back = {c.params["name"] for c in steps.conflicts if c.code == Conflict.NAME_TAKEN}
    assert held_back == names_sent(plan(base, desired, remote)) & set(taken)
    if held_back and isinstance(remote, Remote):
        assert all(update.name == remote.name for update in steps.updates)


def names_sent(steps) -> set[str]:
    """The names a plan sends to Chat: its create's and its rename's new one."""
    return {name for name in (steps.create and steps.create.name, steps.rename and steps.rename[1]) if name}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 999), unique=True, max_size=350), st.lists(st.integers(0, 999), unique=True,
                                                                          max_size=350))
def test_no_call_carries_more_conversations_than_chat_takes(before, after):
    as_conversations = [Conversation(protocol.TYPE_C2C, f"peer_{n}") for n in before]
    base = Base("big", frozenset(as_conversations))
    desired = Desired("big", tuple(Conversation(protocol.TYPE_C2C, f"peer_{n}") for n in after))
    for remote in (Remote(1, "big", base.conversations), NOT_READ):
        steps = plan(base if remote != NOT_READ else Base(), desired, remote)
        if steps.create is not None:
            assert len(steps.create.conversations) <= protocol.CONVERSATIONS_PER_REQUEST_MAX
        assert all(len(u.add) + len(u.remove) <= protocol.CONVERSATIONS_PER_REQUEST_MAX for u in steps.updates)
        assert apply(steps, remote) == ("big", set(desired.conversations))
