"""A sync stores how far it is as it goes, and the group admin's status endpoints say it, for those who may view."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import formats, timezone, translation

from contactgroups import sync, words
from contactgroups.chat import errors, protocol
from contactgroups.chat.client import ChatClient
from contactgroups.conf import chat_config
from contactgroups.models import ContactGroup

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP

pytestmark = pytest.mark.django_db


def status_url(group):
    return reverse("admin:contactgroups_contactgroup_status", args=[group.pk])


STATUSES_URL = "/admin/contactgroups/contactgroup/status/"


@pytest.fixture
def alice(owner, chat_sandbox):
    chat_sandbox.import_accounts(owner.user_id, "user_0002", "user_0003")
    return owner


@pytest.fixture
def viewer(django_user_model):
    user = django_user_model.objects.create_user("viewer", password="viewer-password", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_contactgroup"))
    return user


@pytest.fixture
def outsider(django_user_model):
    """Staff, but with no permission on conversation groups (only on Chat users)."""
    user = django_user_model.objects.create_user("outsider", password="outsider-password", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_chatuser"))
    return user


def zh(message: str) -> str:
    with translation.override("zh-hans"):
        return translation.gettext(message)


# Progress as data, call by call --------------------------------------------------------------------------------


class Watching(ChatClient):
    """A real client (over HTTP to the sandbox) that notes what the database says before each call it sends."""

    def __init__(self, group_pk):
        super().__init__(chat_config())
        self.group_pk = group_pk
        self.seen = []

    def _note(self, call):
        group = ContactGroup.objects.get(pk=self.group_pk)
        answered = sorted(group.items.exclude(result_code=None).values_list("to_group_id", "result_code"))
        self.seen.append((call, group.state, group.sync.calls_done, group.sync.calls_planned, answered))

    def create_contact_group(self, *args, **kwargs):
        self._note("create")
        return super().create_contact_group(*args, **kwargs)

    def update_contact_group(self, *args, **kwargs):
        self._note("update")
        return super().update_contact_group(*args, **kwargs)


def targets(first, last):
    return [f"@TGS#{n:04d}" for n in range(first, last + 1)]


def test_a_sync_of_several_calls_stores_its_progress_and_each_answer_as_the_call_returns(alice, make_group, staff):
    group = make_group(alice, "big", [(GROUP, target) for target in targets(1, 250)])
    watching = Watching(group.pk)

    with CaptureQueriesContext(connection) as queries:
        result = sync.sync_group(group.pk, staff.pk, client=watching)

    # Never sent, so no read: a create of 100, then updates of 100 and 50.
    assert [call for call, *_ in watching.seen] == ["create", "update", "update"]
    assert watching.seen[0][1:4] == ("syncing", 0, 3)
    assert watching.seen[0][4] == []
    assert watching.seen[1][1:4] == ("syncing", 1, 3)
    assert watching.seen[1][4] == [(target, errors.OK) for target in targets(1, 100)]
    assert watching.seen[2][1:4] == ("syncing", 2, 3)
    assert watching.seen[2][4] == [(target, errors.OK) for target in targets(1, 200)]
    group.refresh_from_db()
    assert result.state == group.state == ContactGroup.State.SYNCED
    assert (group.sync.calls_done, group.sync.calls_planned) == (0, 0)
    assert group.items.filter(result_code=errors.OK).count() == 250
    # The plan's count, then one after each call but the last.
    assert sum("SET \"calls_done\"" in query["sql"] for query in queries.captured_queries) == 3


def test_a_sync_of_one_call_writes_no_progress(alice, make_group, staff):
    group = make_group(alice, "small", [(C2C, "user_0002"), (C2C, "user_9")])
    with CaptureQueriesContext(connection) as queries:
        sync.sync_group(group.pk, staff.pk)
    assert not any("SET \"calls_done\"" in query["sql"] for query in queries.captured_queries)
    group.refresh_from_db()
    assert group.state == ContactGroup.State.PARTIAL
    assert dict(group.items.values_list("to_account", "result_code")) == {
        "user_0002": errors.OK, "user_9": errors.ACCOUNT_NOT_IMPORTED}


def test_a_refusal_in_an_early_call_is_stored_before_the_next_call(alice, make_group, staff):
    conversations = [(C2C, "user_9")] + [(GROUP, target) for target in targets(1, 120)]
    group = make_group(alice, "mixed", conversations)
    watching = Watching(group.pk)
    sync.sync_group(group.pk, staff.pk, client=watching)
    before_update = watching.seen[1]
    assert before_update[:4] == ("update", "syncing", 1, 2)
    assert group.items.get(to_account="user_9").result_code == errors.ACCOUNT_NOT_IMPORTED
    assert ("", errors.ACCOUNT_NOT_IMPORTED) in before_update[4]


# The words of each state ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "expected"), [
    ({"state": "queued"}, "Queued"),
    ({"state": "syncing"}, "Syncing to Chat"),
    ({"state": "syncing", "calls_done": 1, "calls_planned": 5}, "Syncing to Chat: call 2 of 5"),
    ({"state": "syncing", "calls_done": 5, "calls_planned": 5}, "Syncing to Chat: call 5 of 5"),
    ({"state": "deleting"}, "Queued for deletion from Chat"),
    ({"state": "deleting", "running": True, "calls_done": 0, "calls_planned": 2}, "Deleting from Chat: call 1 of 2"),
    ({"state": "synced"}, "Synced"),
    ({"state": "partial", "refused": 3}, "Partly refused: 3 conversations refused"),
    ({"state": "partial", "refused": 1}, "Partly refused: 1 conversation refused"),
    ({"state": "failed", "error_code": errors.ACCOUNT_NOT_IMPORTED},
     f"Failed: {errors.ACCOUNT_NOT_IMPORTED} {words.meaning(errors.ACCOUNT_NOT_IMPORTED)}"),
    ({"state": "failed", "last_outcome": {"code": "gave_up", "attempts": 3, "error": {"kind": "connect"}}},
     f"Failed: {words.error_text({'kind': 'connect'})}"),
])
def test_each_state_in_words(fields, expected):
    state = fields.pop("state")
    assert words.sync_state_text(state, **fields) == expected


# The endpoints ---------------------------------------------------------------------------------------------------


def test_one_group_status_gives_its_state_last_sync_and_each_conversation_in_words(client, alice, make_group, staff):
    group = make_group(alice, "team", [(C2C, "user_0002"), (C2C, "user_9"), (GROUP, "@TGS#1")])
    sync.sync_group(group.pk, staff.pk)
    client.force_login(staff)

    answer = client.get(status_url(group))

    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/json"
    data = answer.json()
    group.refresh_from_db()
    assert data["id"] == group.pk
    assert data["state"] == "partial"
    assert data["final"] is True
    assert data["text"] == "Partly refused: 1 conversation refused"
    # Where a value carries the import offer, its parts as data (the script builds the buttons from them, as
    # text): the UserID, the button's label and what it submits, then the sync-again button.
    import_user_9 = {"user_id": "user_9", "words": "", "button": {
        "kind": "import", "label": "Import this user into Chat", "form": "chat-actions",
        "formaction": reverse("admin:contactgroups_chatuser_import_one"), "name": "user_id", "value": "user_9"}}
    assert data["fields"]["last_sync"].pop("offers") == [import_user_9, {"user_id": "", "words": "", "button": {
        "kind": "sync", "label": "Sync this group again", "form": "chat-actions",
        "formaction": reverse("admin:contactgroups_contactgroup_sync_one", args=[group.pk])}}]
    assert [item.pop("offers", None) for item in data["conversations"]] == [None, [import_user_9], None]
    assert data["fields"] == {
        "chat_group_id": {"text": str(group.sync.chat_group_id), "refused": False},
        "confirmed_name": {"text": "team", "refused": False},
        "last_sync": {"text": words.outcome_text(group.sync.last_outcome), "refused": False},
        "last_error": {"text": "—", "refused": False},
        "last_synced_at": {"text": formats.localize(timezone.template_localtime(group.sync.last_synced_at)),
                           "refused": False},
    }
    items = {item.to_account or item.to_group_id: item.pk for item in group.items.all()}
    assert data["conversations"] == [
        {"id": items["user_0002"], "code": 0, "text": "0: Accepted by Chat.", "refused": False},
        {"id": items["user_9"], "code": errors.ACCOUNT_NOT_IMPORTED,
         # Chat's own text ("To_Account user_9 is not imported") names its JSON field: kept for the audit.
         "text": f"{errors.ACCOUNT_NOT_IMPORTED}: {words.meaning(errors.ACCOUNT_NOT_IMPORTED)}", "refused": True},
        {"id": items["@TGS#1"], "code": 0, "text": "0: Accepted by Chat.", "refused": False},
    ]
    # Staff words only.
    for text in [data["text"], *(item["text"] for item in data["conversations"])]:
        assert "ResultCode" not in text and "recentcontact" not in text and "From_Account" not in text
        assert "To_Account" not in text


def test_a_failed_group_says_chats_code_and_its_meaning(client, owner, chat_sandbox, make_group, staff):
    group = make_group(owner, "lost", [(C2C, "user_0002")])  # its owner was never imported into Chat
    sync.sync_with_retries(group.pk, staff.pk)
    client.force_login(staff)
    data = client.get(status_url(group)).json()
    group.refresh_from_db()
    meaning = words.meaning(errors.ACCOUNT_NOT_IMPORTED)
    assert (data["state"], data["final"]) == ("failed", True)
    assert data["text"] == f"Failed: {errors.ACCOUNT_NOT_IMPORTED} {meaning}"
    assert data["fields"]["last_error"] == {
        "text": f"{errors.ACCOUNT_NOT_IMPORTED}: {meaning}", "refused": True}  # Chat's own text is the audit's


def test_a_queued_group_is_not_final_and_its_conversations_are_not_sent_yet(client, alice, make_group, staff):
    group = make_group(alice, "waiting", [(C2C, "user_0002")], state=ContactGroup.State.QUEUED)
    client.force_login(staff)
    data = client.get(status_url(group)).json()
    assert (data["state"], data["final"], data["text"]) == ("queued", False, "Queued")
    assert [(item["code"], item["text"], item["refused"]) for item in data["conversations"]] == [
        (None, "not sent yet", False)]


def test_a_sync_in_progress_reads_call_k_of_n(client, alice, make_group, staff):
    group = make_group(alice, "running", [(C2C, "user_0002")], state=ContactGroup.State.SYNCING,
                       calls_done=2, calls_planned=4)
    client.force_login(staff)
    data = client.get(status_url(group)).json()
    assert data["final"] is False
    assert data["text"] == "Syncing to Chat: call 3 of 4"
    assert data["calls"] == {"done": 2, "planned": 4}


def test_status_words_are_in_the_readers_language(client, alice, make_group, staff):
    group = make_group(alice, "running", [(C2C, "user_0002")], state=ContactGroup.State.SYNCING,
                       calls_done=1, calls_planned=3)
    client.force_login(staff)
    data = client.get(status_url(group), headers={"accept-language": "zh-hans"}).json()
    assert data["text"] == zh("Syncing to Chat: call %(call)d of %(calls)d") % {"call": 2, "calls": 3}
    assert data["text"] != "Syncing to Chat: call 2 of 3"
    assert data["conversations"][0]["text"] == zh("not sent yet")


def test_the_list_status_gives_each_named_group(client, alice, make_group, staff):
    one = make_group(alice, "one", [(C2C, "user_0002"), (C2C, "user_9")])
    sync.sync_group(one.pk, staff.pk)
    one.refresh_from_db()
    two = make_group(alice, "two", state=ContactGroup.State.SYNCING, calls_done=0, calls_planned=2)
    client.force_login(staff)
    answer = client.get(STATUSES_URL, {"id": [one.pk, two.pk, 999_999]})
    assert answer.status_code == 200

    def plain(text):
        return {"text": text, "refused": False}

    assert answer.json() == {"groups": [
        {"id": one.pk, "state": "partial", "final": True, "text": "Partly refused: 1 conversation refused",
         "calls": {"done": 0, "planned": 0},
         "columns": {"chat_group_id": plain(str(one.sync.chat_group_id)), "conversation_count": plain("2"),
                     "accepted_count": plain("1"), "refused": {"text": "1", "refused": True},
                     "last_synced_at": plain(formats.localize(timezone.template_localtime(one.sync.last_synced_at)))}},
        {"id": two.pk, "state": "syncing", "final": False, "text": "Syncing to Chat: call 1 of 2",
         "calls": {"done": 0, "planned": 2},
         "columns": {"chat_group_id": plain("-"), "conversation_count": plain("0"), "accepted_count": plain("0"),
                     "refused": plain("0"), "last_synced_at": plain("-")}},
    ]}


def test_the_list_status_of_no_group_is_empty(client, staff):
    client.force_login(staff)
    assert client.get(STATUSES_URL).json() == {"groups": []}


@pytest.mark.parametrize(("query", "error"), [
    ({"id": "abc"}, "A conversation group's id is a whole number."),
    ({"id": ["1", "1.5"]}, "A conversation group's id is a whole number."),
    ({"id": "1" * 40}, "A conversation group's id is a whole number."),
    ({"id": [str(n) for n in range(1, 202)]}, "Give the ids of at most 200 conversation groups."),
])
def test_the_list_status_refuses_bad_ids_clearly(client, staff, query, error):
    client.force_login(staff)
    answer = client.get(STATUSES_URL, query)
    assert answer.status_code == 400
    assert answer.json() == {"error": error}


def test_an_unknown_group_is_404_not_500(client, staff):
    client.force_login(staff)
    for pk in ("999999", "abc"):
        answer = client.get(f"/admin/contactgroups/contactgroup/{pk}/status/")
        assert answer.status_code == 404
        assert "error" in answer.json()


def test_a_view_only_user_reads_both(client, alice, make_group, viewer):
    group = make_group(alice, "team", [(C2C, "user_0002")], state=ContactGroup.State.QUEUED)
    client.force_login(viewer)
    assert client.get(status_url(group)).json()["text"] == "Queued"
    assert client.get(STATUSES_URL, {"id": group.pk}).json()["groups"][0]["text"] == "Queued"


def test_staff_without_the_view_permission_are_refused(client, alice, make_group, outsider):
    group = make_group(alice, "team", [(C2C, "user_0002")], state=ContactGroup.State.QUEUED)
    client.force_login(outsider)
    assert client.get(status_url(group)).status_code == 403
    assert client.get(STATUSES_URL, {"id": group.pk}).status_code == 403


def test_someone_signed_out_is_sent_to_the_login(client, alice, make_group):
    group = make_group(alice, "team", [(C2C, "user_0002")])
    for url in (status_url(group), f"{STATUSES_URL}?id={group.pk}"):
        answer = client.get(url)
        assert answer.status_code == 302
        assert answer["Location"].startswith("/admin/login/")


# The pages mark what the script follows ---------------------------------------------------------------------------


def test_the_group_page_and_the_list_load_the_script_with_their_endpoint(client, alice, make_group, staff):
    group = make_group(alice, "team", [(C2C, "user_0002")], state=ContactGroup.State.QUEUED)
    client.force_login(staff)
    page = client.get(reverse("admin:contactgroups_contactgroup_change", args=[group.pk])).content.decode()
    assert f'data-status-url="{status_url(group)}"' in page
    assert f'data-group="{group.pk}" data-final="false">Queued</span>' in page
    item = group.items.get()
    assert f'data-item="{item.pk}">not sent yet</span>' in page
    listing = client.get(reverse("admin:contactgroups_contactgroup_changelist")).content.decode()
    assert f'data-statuses-url="{STATUSES_URL}"' in listing
    assert f'data-group="{group.pk}" data-final="false">Queued</span>' in listing
    assert "contactgroups/live_sync.js" in listing
    add_page = client.get(reverse("admin:contactgroups_contactgroup_add")).content.decode()
    assert "live_sync.js" not in add_page


def test_the_status_costs_the_same_queries_for_one_conversation_or_a_thousand(client, alice, make_group, staff,
                                                                               django_assert_num_queries):
    small = make_group(alice, "small", [(GROUP, "@TGS#1")], state=ContactGroup.State.SYNCING)
    most = protocol.GROUPED_CONVERSATIONS_PER_USER_MAX
    large = make_group(alice, "large", [(GROUP, f"@TGS#{n}") for n in range(most)],
                       state=ContactGroup.State.SYNCING)
    client.force_login(staff)
    client.get(status_url(small))  # the session and the user, as every later request reads them
    with CaptureQueriesContext(connection) as one:
        assert len(client.get(status_url(small)).json()["conversations"]) == 1
    with django_assert_num_queries(len(one.captured_queries)):
        assert len(client.get(status_url(large)).json()["conversations"]) == most
    with django_assert_num_queries(len(one.captured_queries) - 1):  # no conversations read
        assert len(client.get(STATUSES_URL, {"id": [small.pk, large.pk]}).json()["groups"]) == 2


def test_text_from_chat_never_reads_as_markup_in_the_json(client, alice, make_group, staff):
    group = make_group(alice, "team", [(C2C, "user_0002")], state=ContactGroup.State.PARTIAL, refused_count=1)
    # A code the project does not document: its page shows Chat's own text beside it.
    group.items.update(result_code=98765, result_info="<img src=x onerror=alert(1)> & co")
    client.force_login(staff)
    answer = client.get(status_url(group))
    assert "<img" not in answer.content.decode() and "& co" not in answer.content.decode()
    assert answer.json()["conversations"][0]["text"].endswith("(<img src=x onerror=alert(1)> & co)")
