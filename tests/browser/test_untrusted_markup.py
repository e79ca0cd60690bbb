"""Markup from end users, Chat, files and staff is shown as text on every admin page, and never runs, in Chromium.

Each field anyone can set holds markup: group names (set in the app, in the sandbox's state, and adopted by a
pull, and set by staff), UserIDs, nicknames, ToGroupIds, Chat's ErrorInfo and ResultInfo, CSV cells and the file's
name, a username typed at the login, the staff's own name. Every page is visited, the picker and the live status
while a sync runs included, with the page listening for what must never happen: a dialog (``alert``) and a
Content-Security-Policy violation (Chromium's console message, and a ``securitypolicyviolation`` listener put in
every document before its own scripts).
"""

import re

import pytest
from django.contrib import admin
from django.urls import reverse
from playwright.sync_api import expect

from contactgroups import sync
from contactgroups.chat import errors, protocol
from contactgroups.models import ChatUser, ContactGroup, ContactItem, SyncAttempt
from tests.browser.conftest import C2C, GROUP, column, log_in, screenshot, settle
from tests.browser.test_group_workflow import fill_conversation

pytestmark = pytest.mark.browser

PASSWORD = "support-password"  # the staff fixture's
IMAGE = "<img src=x onerror=alert(1)>"
SCRIPT = '"><script>alert(2)</script>'
BOTH = IMAGE + SCRIPT
# A code the project does not document, so the pages show Chat's own text beside it.
UNDOCUMENTED = 90001
# Each Chat call takes this long while the live status is watched, so the page is seen while the sync runs.
SLOW_CHAT_MS = 4000
SYNC_TIMEOUT_MS = 40_000

LISTEN = """
document.addEventListener('securitypolicyviolation', (event) => window.reportViolation({
  page: location.href, directive: event.violatedDirective, blocked: event.blockedURI, sample: event.sample,
  source: event.sourceFile, line: event.lineNumber,
}));
"""


class Guard:
    """Hears, on every page of a browser context, a dialog or a CSP violation, and says where it happened."""

    def __init__(self, context):
        self.dialogs, self.violations, self.console = [], [], []
        context.expose_function("reportViolation", lambda violation: self.violations.append(violation))
        context.add_init_script(LISTEN)
        context.on("page", self.watch)
        for page in context.pages:
            self.watch(page)

    def watch(self, page):
        def dialog(dialog):
            self.dialogs.append((page.url, dialog.type, dialog.message))
            dialog.dismiss()

        def console(message):
            if "Content Security Policy" in message.text:
                self.console.append((page.url, message.text))

        page.on("dialog", dialog)
        page.on("console", console)

    def heard(self) -> dict:
        return {"dialogs": self.dialogs, "violations": self.violations, "console": self.console}

    def assert_quiet(self):
        assert self.heard() == {"dialogs": [], "violations": [], "console": []}


@pytest.fixture
def guarded(page):
    """The test's page, its whole browser context listened to."""
    return Guard(page.context)


def visit(page, url: str) -> None:
    """Open ``url`` and let everything it loads, and the events that follow, happen."""
    response = page.goto(url)
    assert response is not None and response.status < 500, f"{url}: {response and response.status}"
    page.wait_for_load_state("networkidle")
    nothing_ran(page)


def nothing_ran(page) -> None:
    """The document holds no element the markup would have made, and no inline script of its own."""
    url = page.url
    assert page.locator("img[src='x'], [onerror]").count() == 0, url
    assert page.locator("script:not([src]):not([type='application/json'])").count() == 0, url


def values(page, field: str) -> list[str]:
    """The values of the conversations' ``field`` inputs, as the page holds them."""
    return page.eval_on_selector_all(f"input[name$='-{field}']", "inputs => inputs.map((input) => input.value)")


def chats_own_words(code: int) -> str:
    """An undocumented code as the pages show it: with the text Chat sent, BOTH."""
    return f"{code}: Chat error {code}, not documented; see the text Chat sent with it. ({BOTH})"


def not_imported(user_id: str) -> str:
    return f"{errors.ACCOUNT_NOT_IMPORTED}: The UserID has not been imported into Chat; import the account first."


@pytest.fixture
def untrusted(staff, chat_sandbox, make_group):
    """Markup everywhere it can come from, through the sandbox as the app and Chat send it.

    - user_0001, nickname IMAGE:
      - "team", synced with a one-to-one conversation to IMAGE (a UserID Chat refuses as not imported) and a group
        conversation SCRIPT; renamed IMAGE in the app and pulled (the pull's outcome names both); then renamed
        SCRIPT in the app, not pulled yet;
      - "offers", whose last sync Chat refused the UserID IMAGE: the page offers to import it.
    - SCRIPT, a Chat user whose nickname is IMAGE: a group SCRIPT created in the app, adopted by a pull; and a
      group BOTH that Chat refused whole with an undocumented code and ErrorInfo BOTH.
    """
    staff.first_name, staff.last_name = IMAGE, SCRIPT
    staff.save()
    chat_sandbox.import_accounts("user_0001", "user_0002", SCRIPT)
    alice = ChatUser.objects.create(user_id="user_0001", nickname=IMAGE,
                                    import_state=ChatUser.ImportState.IMPORTED)
    stranger = ChatUser.objects.create(user_id=SCRIPT, nickname=IMAGE, import_state=ChatUser.ImportState.IMPORTED)

    team = make_group(alice, "team", [(C2C, "user_0002"), (C2C, IMAGE), (GROUP, SCRIPT)])
    sync.sync_group(team.pk, staff.pk)
    rename_in_app(chat_sandbox, "team", IMAGE)
    sync.pull_owner(alice.pk, staff.pk)
    team.refresh_from_db()
    assert team.name == IMAGE and team.sync.last_outcome["code"] == "pulled"
    rename_in_app(chat_sandbox, IMAGE, SCRIPT)
    offers = make_group(alice, "offers", [(C2C, IMAGE)])
    sync.sync_group(offers.pk, staff.pk)

    made = chat_sandbox.post("recentcontact/create_contact_group", {"From_Account": SCRIPT, "GroupContactItem": [
        {"GroupName": SCRIPT, "ContactItem": [{"Type": GROUP, "ToGroupId": SCRIPT}]}]})
    assert made["ErrorCode"] == 0, made
    sync.pull_owner(stranger.pk, staff.pk)
    adopted = ContactGroup.objects.get(owner=stranger, name=SCRIPT)
    # A conversation Chat answered with a code the project does not document, and its own ResultInfo: the
    # sandbox answers per conversation only with codes it documents, so this answer is stored as the sync
    # stores one.
    ContactItem.objects.filter(group=adopted).update(result_code=UNDOCUMENTED + 1, result_info=BOTH)

    refused = make_group(stranger, BOTH, [(C2C, "user_0002")])
    chat_sandbox.set_faults(fail_rate=1.0, fail_codes=[UNDOCUMENTED], fail_info=BOTH,
                            endpoints=[protocol.CREATE_CONTACT_GROUP])
    sync.sync_with_retries(refused.pk, staff.pk, sleep=lambda seconds: None)
    chat_sandbox.clear_faults()
    refused.refresh_from_db()
    assert refused.sync.last_error_code == UNDOCUMENTED and refused.sync.last_error_info == BOTH

    chat_sandbox.seed_conversations("user_0001", [
        {"Type": C2C, "To_Account": IMAGE, "MsgTime": 1_764_670_000},
        {"Type": GROUP, "GroupId": SCRIPT, "MsgTime": 1_764_669_000},
    ])
    return {"team": team, "offers": offers, "adopted": adopted, "refused": refused, "alice": alice,
            "stranger": stranger}


def rename_in_app(chat_sandbox, old: str, new: str) -> None:
    """user_0001 renames a group in the app."""
    renamed = chat_sandbox.post("recentcontact/update_contact_group", {
        "From_Account": "user_0001", "UpdateType": protocol.UPDATE_BY_GROUP,
        "UpdateGroup": {"UpdateGroupType": protocol.RENAME_GROUP, "OldGroupName": old, "NewGroupName": new}})
    assert renamed["ErrorCode"] == 0, renamed


def test_the_listener_hears_a_refused_inline_script(page, staff, guarded):
    """The listening below can fail: an inline script added to a page is refused, and heard."""
    log_in(page, "support", PASSWORD)
    page.evaluate("""() => {
        const script = document.createElement('script');
        script.textContent = 'window.ranInline = true';
        document.body.append(script);
    }""")
    expect(page.locator("body")).to_be_visible()
    page.wait_for_timeout(200)
    assert page.evaluate("window.ranInline") is None
    assert [violation["directive"] for violation in guarded.violations] == ["script-src-elem"]
    assert [text.split(" violates ")[0] for _url, text in guarded.console] == ["Executing inline script"]


def test_markup_anyone_can_set_is_text_on_every_page_and_never_runs(page, untrusted, guarded, chat_sandbox,
                                                                    background_syncs):
    team, adopted, refused = untrusted["team"], untrusted["adopted"], untrusted["refused"]
    # A username typed at the login is kept by the login throttle, whose pages list it.
    page.goto("/admin/login/")
    page.get_by_label("Username").fill(BOTH)
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".errornote")).to_be_visible()
    log_in(page, "support", PASSWORD)
    expect(page.locator("#user-tools strong")).to_have_text(IMAGE)

    # The group page, while Chat holds the app's new name: the comparison names both; the last pull's outcome
    # names the old one and the conversation it removed.
    visit(page, reverse("admin:contactgroups_contactgroup_change", args=[team.pk]))
    expect(page.locator("#chat-comparison li")).to_contain_text([f"from “{IMAGE}” to “{SCRIPT}”"])
    expect(page.get_by_label("Group name")).to_have_value(IMAGE)
    expect(page.locator(".form-row.field-last_sync .readonly")).to_contain_text(f"removed {IMAGE}")
    assert SCRIPT in values(page, "to_group_id")
    expect(page.locator(".field-owner .readonly")).to_contain_text(IMAGE)
    # A UserID Chat refused, with the offer to import it, under the last sync and in its row.
    visit(page, reverse("admin:contactgroups_contactgroup_change", args=[untrusted["offers"].pk]))
    expect(page.locator(".form-row.field-last_sync .readonly .user-id")).to_have_text([IMAGE])
    refusal = page.locator("tr.form-row").filter(has=page.locator("td.field-result strong.refused"))
    expect(refusal.locator("input[name$='-to_account']")).to_have_value(IMAGE)
    expect(refusal.locator("td.field-result")).to_contain_text(not_imported(IMAGE))
    expect(refusal.locator("td.field-result .user-id")).to_have_text(IMAGE)
    visit(page, reverse("admin:contactgroups_contactgroup_change", args=[team.pk]))

    # The picker: the owner's conversations in Chat, and known users as staff type.
    page.get_by_role("button", name="Choose from the owner's conversations in Chat").click()
    rows = page.locator("#pick-panel tbody tr")
    expect(rows.nth(0).locator("td").nth(2)).to_have_text(IMAGE)
    expect(rows.nth(1).locator("td").nth(2)).to_have_text(SCRIPT)
    page.get_by_role("button", name="Close").click()
    page.locator("tr.form-row:not(.empty-form) input[name$='-to_account']").last.press_sequentially('"><')
    expect(page.get_by_role("listbox", name="Known Chat users").get_by_role("option")).to_have_text(
        [f"{SCRIPT} {IMAGE}"])
    nothing_ran(page)

    # Every list, plain and searched for markup, and every add form.
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        visit(page, url)
        visit(page, f"{url}?q={BOTH}")
        visit(page, reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add"))
    visit(page, reverse("admin:password_change"))
    # The owner's box on a new group: the known users, found by what staff type.
    visit(page, reverse("admin:contactgroups_contactgroup_add"))
    page.locator(".field-owner .select2-selection").click()
    page.locator(".select2-search__field").press_sequentially('"><')
    expect(page.locator(".select2-results__option")).to_have_text([f"{SCRIPT} ({IMAGE})"])
    nothing_ran(page)
    visit(page, reverse("admin:contactgroups_contactgroup_changelist"))
    listed = page.locator("#result_list tbody tr")
    assert sorted(column(page, listed, "group name").all_inner_texts()) == sorted([IMAGE, "offers", SCRIPT, BOTH])
    assert sorted(column(page, listed, "owner").all_inner_texts()) == sorted(
        [f"user_0001 ({IMAGE})"] * 2 + [f"{SCRIPT} ({IMAGE})"] * 2)
    visit(page, reverse("admin:contactgroups_chatuser_changelist"))
    expect(page.locator("#result_list tbody tr").filter(has_text=SCRIPT)).to_contain_text(IMAGE)
    visit(page, reverse("admin:axes_accessattempt_changelist"))
    expect(page.locator("#result_list tbody")).to_contain_text(BOTH)
    visit(page, reverse("admin:contactgroups_syncattempt_changelist"))
    expect(page.locator("#result_list tbody")).to_contain_text(BOTH)

    # Every group's pages.
    for group in (team, untrusted["offers"], adopted, refused):
        for name in ("change", "history", "delete"):
            visit(page, reverse(f"admin:contactgroups_contactgroup_{name}", args=[group.pk]))
    visit(page, reverse("admin:contactgroups_contactgroup_change", args=[adopted.pk]))
    expect(page.locator("td.field-result").first).to_have_text(chats_own_words(UNDOCUMENTED + 1))
    assert SCRIPT in values(page, "to_group_id")
    visit(page, reverse("admin:contactgroups_contactgroup_change", args=[refused.pk]))
    expect(page.locator(".form-row.field-last_error .readonly")).to_have_text(chats_own_words(UNDOCUMENTED))
    visit(page, reverse("admin:contactgroups_contactgroup_history", args=[adopted.pk]))
    expect(page.locator("#content-main")).to_contain_text(f"{SCRIPT} created this group in the app")

    # The version to restore, the owners' and the staff's pages, every call of the audit.
    version = adopted.versions.get()
    visit(page, reverse("admin:contactgroups_contactgroup_restore", args=[adopted.pk, version.pk]))
    expect(page.locator("#restore-version")).to_contain_text(SCRIPT)
    expect(page.locator(".restore-conversations li")).to_have_text([f"group {SCRIPT}"])
    for user in (untrusted["alice"], untrusted["stranger"]):
        visit(page, reverse("admin:contactgroups_chatuser_change", args=[user.pk]))
        visit(page, reverse("admin:contactgroups_chatuser_history", args=[user.pk]))
    visit(page, reverse("admin:auth_user_change", args=[page_user_pk()]))
    for attempt in SyncAttempt.objects.order_by("pk"):
        visit(page, reverse("admin:contactgroups_syncattempt_change", args=[attempt.pk]))
    created = SyncAttempt.objects.filter(group=team, operation="create_contact_group").get()
    visit(page, reverse("admin:contactgroups_syncattempt_change", args=[created.pk]))
    expect(page.locator("#content-main")).to_contain_text(f"To_Account {IMAGE} is not imported")

    # The health page, its charts drawn.
    visit(page, reverse("admin:contactgroups_health"))
    expect(page.locator("#health-failing tbody")).to_contain_text(BOTH)
    expect(page.locator("#health-states-chart")).to_have_attribute("style", re.compile("display: block"))

    # A CSV file, its name and cells markup: the preview.
    visit(page, reverse("admin:contactgroups_contactgroup_import"))
    csv = "owner,group_name,type,target\n" + "\n".join([
        f"user_0001,\"{SCRIPT.replace(chr(34), chr(34) * 2)}\",1,user_0002",
        f"{IMAGE},{IMAGE},1,user_0002",
        f"user_0001,x,1,\"{SCRIPT.replace(chr(34), chr(34) * 2)}{IMAGE}\"",
    ]) + "\n"
    page.set_input_files("input[type=file]", files=[
        {"name": f"{IMAGE}.csv", "mimeType": "text/csv", "buffer": csv.encode()}])
    page.get_by_role("button", name="Preview", exact=True).click()
    page.wait_for_load_state("networkidle")
    nothing_ran(page)
    expect(page.get_by_role("heading", name=f"Preview of {IMAGE}.csv")).to_be_visible()
    expect(page.locator("#content-main")).to_contain_text(SCRIPT)
    expect(page.locator("#content-main")).to_contain_text(IMAGE)
    screenshot(page, "untrusted-markup-import-preview")

    visit(page, "/admin/")
    screenshot(page, "untrusted-markup-index")
    guarded.assert_quiet()


def page_user_pk() -> int:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="support").pk


def test_the_live_status_shows_markup_as_text_while_a_sync_runs(page, untrusted, guarded, chat_sandbox,
                                                                background_syncs):
    """Staff save a group the app renamed, whose last pull removed the UserID IMAGE: the page and the list follow
    the sync as it runs, and a viewer who opens the page meanwhile sees the same, all as text; then a group whose
    refused UserID IMAGE carries the import offer is synced again from its page."""
    team, offers = untrusted["team"], untrusted["offers"]
    log_in(page, "support", PASSWORD)
    visit(page, reverse("admin:contactgroups_contactgroup_change", args=[team.pk]))
    fill_conversation(page, 2, "Group conversation", "@TGS#live")
    # Chat's answer to the change is slow; its reads, which the pages make too, are not.
    chat_sandbox.set_faults(latency_ms=SLOW_CHAT_MS, endpoints=[protocol.UPDATE_CONTACT_GROUP])
    with page.expect_navigation():
        page.get_by_role("button", name="Save and continue editing").click()
    listing = page.context.new_page()
    listing.goto(reverse("admin:contactgroups_contactgroup_changelist"))
    viewer = page.context.new_page()
    viewer.goto(reverse("admin:contactgroups_contactgroup_change", args=[team.pk]))
    for shown in (page, viewer):
        expect(shown.locator(".field-state_badge .sync-state")).to_have_text(re.compile("^(Queued|Syncing)"))
        # The pull's outcome, as the status the page asks for gives it while the sync runs.
        expect(shown.locator(".form-row.field-last_sync .readonly")).to_contain_text(f"removed {IMAGE}")
    row = listing.locator("#result_list tbody tr").filter(has=listing.locator(f"[data-group='{team.pk}']"))
    expect(column(listing, row, "group name")).to_have_text(IMAGE)

    for shown in (page, viewer):
        expect(shown.locator(".field-state_badge .sync-state")).to_have_text("Synced", timeout=SYNC_TIMEOUT_MS)
        expect(shown.locator(".form-row.field-last_sync .readonly")).to_contain_text(
            f"In the app, user_0001 renamed the group to “{SCRIPT}”; the mirror now shows it.")
        expect(shown.locator(".form-row.field-confirmed_name .readonly")).to_have_text(SCRIPT)
        nothing_ran(shown)
    expect(column(listing, row, "state").locator(".sync-state")).to_have_text("Synced", timeout=SYNC_TIMEOUT_MS)
    nothing_ran(listing)
    screenshot(page, "untrusted-markup-live")

    visit(page, reverse("admin:contactgroups_contactgroup_change", args=[offers.pk]))
    page.get_by_role("button", name="Sync this group again").click()
    badge = page.locator(".field-state_badge .sync-state")
    expect(badge).to_have_text(re.compile("^(Queued|Syncing)"))
    expect(badge).to_have_text("Partly refused: 1 conversation refused", timeout=SYNC_TIMEOUT_MS)
    last_sync = page.locator(".form-row.field-last_sync .readonly")
    expect(last_sync.locator(".user-id")).to_have_text([IMAGE])
    expect(last_sync.get_by_role("button", name="Import this user into Chat")).to_be_visible()
    expect(last_sync.get_by_role("button", name="Sync this group again")).to_be_visible()
    expect(page.locator("td.field-result .user-id")).to_have_text([IMAGE])
    nothing_ran(page)
    chat_sandbox.clear_faults()
    settle(page, background_syncs)
    guarded.assert_quiet()
