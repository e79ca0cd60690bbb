"""Nothing stored or from Chat runs as script in a staff browser: the Content-Security-Policy on every response, no
inline script or style in the project's templates, no markup written by its scripts, and status JSON that is text.

tests/browser/test_untrusted_markup.py sees the same in Chromium, page by page.
"""

import json
import re

import pytest
from django.urls import reverse

from contactgroups import sync
from contactgroups.chat import protocol
from contactgroups.models import ChatUser, ContactGroup
from tests.admin_routes import ADMIN_ROUTES, concrete
from tests.services import ROOT

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
IMAGE = "<img src=x onerror=alert(1)>"
SCRIPT = '"><script>alert(2)</script>'

# The policy, directive by directive: scripts, styles, images, fetches and forms from the site only, never framed.
POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
    "base-uri": ["'none'"],
    "object-src": ["'none'"],
}


def policy(response) -> dict:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {name: values for name, *values in directives}


def assert_protected(response) -> None:
    assert policy(response) == POLICY
    assert response.headers["X-Frame-Options"] == "DENY"


# The header -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ADMIN_ROUTES)
def test_every_admin_page_carries_the_policy(client, rows, route):
    client.force_login(rows["user"])
    response = client.get(concrete(route, rows))
    assert response.status_code < 500
    assert_protected(response)


@pytest.mark.parametrize("url", ["/admin/login/", "/admin/", "/", "/jsi18n/", "/admin/no-such-page/",
                                 "/no-such-page/"])
def test_pages_before_the_login_carry_it_too(client, db, url):
    assert_protected(client.get(url))


def test_the_status_endpoints_and_posts_carry_it(client, rows):
    client.force_login(rows["user"])
    group = rows["contactgroup"]
    for response in (
        client.get(reverse("admin:contactgroups_contactgroup_status", args=[group.pk])),
        client.get(reverse("admin:contactgroups_contactgroup_statuses"), {"id": group.pk}),
        client.post(reverse("set_language"), {"language": "en", "next": "/admin/"}),
        client.post(reverse("admin:logout")),
    ):
        assert response.status_code < 500
        assert_protected(response)


# The project's templates and scripts ------------------------------------------------------------------------------

TEMPLATES = sorted([*(ROOT / "templates").rglob("*.html"), *(ROOT / "contactgroups" / "templates").rglob("*.html")])
SCRIPTS = sorted((ROOT / "contactgroups" / "static" / "contactgroups").glob("*.js"))


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_template_holds_inline_script_style_or_event_handler(template):
    text = template.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")", text), "inline <script>"
    assert not re.search(r"<style\b", text), "<style> element"
    assert not re.search(r"\sstyle\s*=", text), "style attribute"
    assert not re.search(r"\son[a-z]+\s*=", text), "event handler attribute"
    assert "javascript:" not in text


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_no_script_writes_markup(script):
    text = script.read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "createContextualFragment"):
        assert sink not in text, f"{script.name} uses {sink}"


def test_the_checks_above_see_what_they_look_for():
    assert SCRIPTS and len(TEMPLATES) > 10
    assert re.search(r"\son[a-z]+\s*=", '<select onchange="this.form.submit()">')
    assert re.search(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")", "<script>alert(1)</script>")
    assert not re.search(r"<script(?![^>]*\bsrc=)", '<script src="{% static "a.js" %}" defer></script>')


# The status JSON --------------------------------------------------------------------------------------------------


def keys(value) -> set:
    """Every key of every object in a JSON document."""
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in keys(item)}
    if isinstance(value, list):
        return {key for item in value for key in keys(item)}
    return set()


def test_the_status_json_carries_text_and_data_never_markup(client, staff, chat_sandbox, make_group):
    """A group the app renamed SCRIPT, whose sync refused the UserID IMAGE (with the offer to import it): the
    status gives every value as text for the script to write as text, the offer as data, and no markup."""
    chat_sandbox.import_accounts("user_0001", "user_0002")
    alice = ChatUser.objects.create(user_id="user_0001", nickname=IMAGE, import_state=ChatUser.ImportState.IMPORTED)
    group = make_group(alice, "team", [(C2C, "user_0002"), (C2C, IMAGE), (GROUP, SCRIPT)])
    sync.sync_group(group.pk, staff.pk)
    renamed = chat_sandbox.post("recentcontact/update_contact_group", {
        "From_Account": "user_0001", "UpdateType": protocol.UPDATE_BY_GROUP,
        "UpdateGroup": {"UpdateGroupType": protocol.RENAME_GROUP, "OldGroupName": "team", "NewGroupName": SCRIPT}})
    assert renamed["ErrorCode"] == 0, renamed
    sync.sync_group(group.pk, staff.pk)
    group.refresh_from_db()
    assert group.state == ContactGroup.State.PARTIAL and group.name == SCRIPT
    client.force_login(staff)

    answer = client.get(reverse("admin:contactgroups_contactgroup_status", args=[group.pk]))
    listed = client.get(reverse("admin:contactgroups_contactgroup_statuses"), {"id": group.pk})

    for response in (answer, listed):
        assert response["Content-Type"] == "application/json"
        body = response.content.decode()
        # Not even as JSON text: <, > and & are escapes, so the answer reads as markup nowhere.
        assert "<" not in body and ">" not in body, body
    data = json.loads(answer.content)
    assert "html" not in keys(data) | keys(json.loads(listed.content))
    last_sync = data["fields"]["last_sync"]
    assert f"In the app, user_0001 renamed the group to “{SCRIPT}”" in last_sync["text"]
    assert f"1 refused: {IMAGE}" in last_sync["text"]
    assert [offer["user_id"] for offer in last_sync["offers"]] == [IMAGE, ""]
    assert last_sync["offers"][0]["button"]["value"] == IMAGE
    refused = [item for item in data["conversations"] if item["refused"]]
    assert [offer["user_id"] for item in refused for offer in item["offers"]] == [IMAGE]
    assert data["fields"]["confirmed_name"]["text"] == SCRIPT
