"""Checks that held when the admin was attacked, kept so they keep holding.

Stored script in every text field and in Chat's own texts (ResultInfo, ErrorInfo) is shown as text on every admin
page; a view-only staff user reads every page of the app and changes nothing through any of them; ids that were
tampered with (another model's, none, not a number) get a page, never a server error, and change nothing.
"""

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Permission

from contactgroups import sync
from contactgroups.chat import protocol
from contactgroups.models import ChatUser, ContactGroup, SyncAttempt
from tests.admin_routes import ADMIN_ROUTES, APP_MODEL_ROUTES, concrete, counts

C2C = protocol.TYPE_C2C
SCRIPT = "<script>xss()</script>"  # 22 bytes: fits a UserID
IMAGE = "<img src=x onerror=xss()>"  # 25 bytes
BOTH = SCRIPT + IMAGE  # 47 bytes: fits a group name
ESCAPED_SCRIPT = "&lt;script&gt;xss()&lt;/script&gt;"


@pytest.fixture
def stored_script(db, make_group, staff):
    """Script in every text of every model, as a pull or Chat's answers would store it; the rows by model."""
    owner = ChatUser.objects.create(user_id=IMAGE, nickname=BOTH, last_error_info=BOTH)
    group = make_group(owner, BOTH, [(C2C, SCRIPT)], confirmed_name=BOTH, last_error_info=BOTH,
                       state=ContactGroup.State.FAILED)
    group.sync.last_outcome = {
        "code": "stopped", "owner": IMAGE, "group_id": 7, "renamed_from": BOTH, "name": BOTH,
        "refused": [[C2C, SCRIPT, 50001, BOTH]], "adopted": {"name": BOTH, "added": [[C2C, SCRIPT]]},
        "conflicts": [{"code": "renamed_in_app", "app_name": BOTH, "staff_name": BOTH}, {"code": "x", "text": BOTH}],
        "error": {"kind": "chat", "code": 90001, "info": BOTH, "http_status": 200}, "retrying": False,
        "partial": True, "created": False,
    }
    group.sync.conflicts = group.sync.last_outcome["conflicts"]
    group.sync.save(update_fields=["last_outcome", "conflicts"])
    group.items.update(result_code=50001, result_info=BOTH)
    attempt = SyncAttempt.objects.create(
        group=group, owner_user_id=IMAGE, group_name=BOTH, actor=staff, operation=SCRIPT,
        request={"GroupName": BOTH}, response={"ActionStatus": "FAIL", "ErrorCode": 90001, "ErrorInfo": BOTH},
        action_status="FAIL", error_code=90001, error_info=BOTH, outcome=SyncAttempt.Outcome.REFUSED,
        started_at=group.updated_at, duration_ms=3,
    )
    sync.log_history(staff.pk, group, [{"added": {}}, {"import": {"source": BOTH, "rows": [2, 2],
                                                                   "conversations": 1}}], action_flag=ADDITION)
    sync.log_history(staff.pk, group, [{"sync": group.sync.last_outcome}])
    return {"chatuser": owner, "contactgroup": group, "contactitem": group.items.get(), "syncattempt": attempt,
            "user": staff}


@pytest.mark.parametrize("route", ADMIN_ROUTES)
def test_stored_script_is_shown_as_text_on_every_admin_page(client, stored_script, route):
    client.force_login(stored_script["user"])
    url = concrete(route, stored_script)
    for response in (client.get(url), client.get(url, {"q": BOTH})):
        page = response.content.decode()
        assert response.status_code < 500
        assert SCRIPT not in page and IMAGE not in page


@pytest.mark.parametrize("page", ["contactgroup/{pk}/change/", "contactgroup/{pk}/history/", "contactgroup/",
                                  "syncattempt/{attempt}/change/", "chatuser/{owner}/change/"])
def test_the_pages_that_show_chats_texts_show_them_escaped(client, stored_script, page):
    client.force_login(stored_script["user"])
    url = "/admin/contactgroups/" + page.format(pk=stored_script["contactgroup"].pk,
                                                attempt=stored_script["syncattempt"].pk,
                                                owner=stored_script["chatuser"].pk)
    assert ESCAPED_SCRIPT in client.get(url).content.decode()


# A view-only staff user --------------------------------------------------------------------------------------


@pytest.fixture
def viewer(client, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="viewer-password", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="contactgroups",
                                                        codename__startswith="view_"))
    client.force_login(user)
    return user


def snapshot() -> tuple:
    return (*counts(), sorted(ContactGroup.objects.values_list("name", "state")), LogEntry.objects.count())


def refuses_change(route: str) -> bool:
    return route.endswith(("/add/", "/delete/", "/import/", "/import/refusals/", "/import/sample/", "/chat/take/",
                           "/chat/keep/", "/restore/",
                           # the conversation picker's reads, offered only to staff who may change a group
                           "/recent/", "/chat-users/"))


@pytest.mark.parametrize("route", APP_MODEL_ROUTES)
def test_a_view_only_user_reads_every_page_of_the_app_and_may_not_open_a_changing_one(client, rows, viewer, route):
    response = client.get(concrete(route, rows))
    if refuses_change(route):
        assert response.status_code == 403
    else:
        assert response.status_code in (200, 302)
        assert 'name="_save"' not in response.content.decode()


@pytest.mark.parametrize("route", APP_MODEL_ROUTES)
def test_a_view_only_user_changes_nothing_by_posting_to_any_page(client, rows, viewer, route):
    before = snapshot()
    response = client.post(concrete(route, rows), {
        "post": "yes", "name": "changed", "owner": str(rows["chatuser"].pk), "user_id": "intruder",
        "action": "delete_selected", "_selected_action": [str(rows["contactgroup"].pk)], "confirm": "1",
        "items-TOTAL_FORMS": "0", "items-INITIAL_FORMS": "0",
    })
    assert response.status_code in (200, 302, 403)
    assert snapshot() == before


@pytest.mark.parametrize("action", ["sync_to_chat", "pull_from_chat", "import_into_chat", "check_in_chat"])
def test_a_view_only_user_cannot_run_an_action(client, rows, viewer, action):
    before = snapshot()
    for model, row in (("contactgroup", rows["contactgroup"]), ("chatuser", rows["chatuser"])):
        client.post(f"/admin/contactgroups/{model}/", {"action": action, "_selected_action": [str(row.pk)]})
    assert snapshot() == before


# Tampered ids ------------------------------------------------------------------------------------------------

ID_ROUTES = [route for route in APP_MODEL_ROUTES if "{object_id}" in route]


@pytest.mark.parametrize("object_id", ["999999", "0", "-1", "abc", "1.5", "99999999999999999999999", "%00"])
@pytest.mark.parametrize("route", ID_ROUTES)
def test_an_id_that_names_no_row_gets_a_page_not_a_server_error(client, rows, staff, route, object_id):
    client.force_login(staff)
    before = snapshot()
    url = route.replace("{object_id}", object_id)
    # 400: an address holding a NUL (%00) is refused before any view reads it.
    assert client.get(url).status_code in (200, 302, 400, 403, 404)
    assert client.post(url, {"post": "yes", "name": "changed"}).status_code in (200, 302, 400, 403, 404)
    assert snapshot() == before


@pytest.mark.parametrize("selected", [["999999"], ["abc"], ["-1"], ["1.5"], [""], ["99999999999999999999999"],
                                      ["999998", "abc"]])
def test_an_action_on_ids_that_name_no_row_changes_nothing(client, rows, staff, selected):
    client.force_login(staff)
    before = snapshot()
    for model in ("contactgroup", "chatuser"):
        for action in ("delete_selected", "sync_to_chat", "pull_from_chat"):
            response = client.post(f"/admin/contactgroups/{model}/", {"action": action, "post": "yes",
                                                                       "_selected_action": selected})
            assert response.status_code in (200, 302)
    assert snapshot() == before


def test_a_group_id_given_to_another_models_page_shows_that_models_row_or_none(client, rows, staff):
    client.force_login(staff)
    attempt_pk = rows["syncattempt"].pk
    response = client.get(f"/admin/contactgroups/contactgroup/{attempt_pk + 1000}/change/", follow=True)
    assert response.status_code == 200 and "doesn’t exist. Perhaps it was deleted?" in response.content.decode()


def test_an_action_given_a_real_id_and_a_tampered_one_acts_on_the_real_row(client, rows, staff):
    client.force_login(staff)
    group = rows["contactgroup"]
    response = client.post("/admin/contactgroups/contactgroup/", {
        "action": "delete_selected", "_selected_action": [str(group.pk), "abc", "99999999999999999999999"]})
    assert response.status_code == 200 and "<title>Delete multiple objects" in response.content.decode()
    assert list(response.context["queryset"]) == [group]
