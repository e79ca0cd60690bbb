"""The admin in Simplified Chinese: a complete catalogue, kept in step with the code, and no English showing through.

The pages are rendered with data that produces every kind of message the app stores or shows: a partial refusal,
a conflict, a failure, a deletion, an adoption from the app, an account refused by Chat, an import preview with
refused rows, and the audit of all the Chat calls that made them.
"""

import html
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from contactgroups import sync, words
from contactgroups.chat import errors, protocol
from contactgroups.models import ChatUser, ContactGroup, SyncAttempt
from tests.services import ROOT

MESSAGES = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES"
CATALOGUE = MESSAGES / "django.po"
DOMAINS = ["django", "djangojs"]  # the pages and commands; the pages' scripts
C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
SOURCES = ["contactgroups", "imadmin", "templates", "manage.py"]


def read_catalogue(path: Path) -> dict[str, dict]:
    """{msgid: {"msgstr": ..., "fuzzy": bool}} of a .po file (the header left out), plural forms as one entry."""
    entries, entry, field = {}, None, None
    text = path.read_text(encoding="utf-8")
    for line in text.splitlines() + [""]:
        if not line.strip():
            if entry and entry.get("msgid"):
                entries[entry["msgid"]] = entry
            entry, field = None, None
            continue
        if line.startswith("#~"):
            continue  # obsolete
        entry = entry or {"fuzzy": False, "msgid": "", "msgstr": ""}
        if line.startswith("#,") and "fuzzy" in line:
            entry["fuzzy"] = True
        elif line.startswith(("msgid ", "msgid_plural ", "msgstr ", "msgstr[0] ")):
            key, _, value = line.partition(" ")
            field = {"msgid": "msgid", "msgid_plural": "plural", "msgstr": "msgstr", "msgstr[0]": "msgstr"}[key]
            entry[field] = entry.get(field, "") if field == "plural" else ""
            entry[field] = _unquote(value)
        elif line.startswith('"') and field:
            entry[field] += _unquote(line)
    return entries


def _unquote(value: str) -> str:
    return value.strip()[1:-1].replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_catalogue_has_every_message_translated_and_none_fuzzy(domain):
    catalogue = MESSAGES / f"{domain}.po"
    result = subprocess.run(["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(catalogue)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"\d+ translated messages?\.\n", result.stderr), result.stderr
    entries = read_catalogue(catalogue)
    assert entries and [msgid for msgid, entry in entries.items() if entry["fuzzy"] or not entry["msgstr"]] == []


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_catalogue_holds_every_message_of_the_code(tmp_path, domain):
    """makemessages over a copy of the code finds no message the catalogue lacks, and none it no longer has."""
    for name in SOURCES:
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    copy = tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES"
    copy.mkdir(parents=True)
    shutil.copy(MESSAGES / f"{domain}.po", copy / f"{domain}.po")
    subprocess.run([sys.executable, "manage.py", "makemessages", "-d", domain, "-l", "zh_Hans", "--no-obsolete",
                    "-v", "0"], cwd=tmp_path, check=True, capture_output=True,
                   env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "tests.settings",
                        "PYTHONPATH": f"{tmp_path}:{ROOT}"})
    fresh = read_catalogue(copy / f"{domain}.po")
    kept = read_catalogue(MESSAGES / f"{domain}.po")
    assert sorted(set(fresh) - set(kept)) == [], "run make catalogue, then translate what it marks new"
    assert sorted(set(kept) - set(fresh)) == [], "messages the code no longer has"


# Every admin page in Chinese ------------------------------------------------------------------------------------

PLACEHOLDER = re.compile(r"%\(\w+\)[sdr]|%[sdr]|\{\w*\}|<[^>]+>")


def english_fragments() -> set[str]:
    """Pieces of the app's English messages long enough to be recognised on a page (three words or more)."""
    fragments = set()
    for msgid, entry in read_catalogue(CATALOGUE).items():
        for text in (msgid, entry.get("plural", "")):
            for piece in PLACEHOLDER.split(text):
                piece = piece.strip(" .,;:()“”\"'")
                if len(piece.split()) >= 3 and piece not in entry["msgstr"]:
                    fragments.add(piece)
    return fragments


def page_text(response) -> str:
    body = response.content.decode()
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    body = re.sub(r"<[^>]+>", " ", body)
    return " ".join(html.unescape(body).split())


@pytest.fixture
def every_kind_of_message(chat_sandbox, staff, make_group, settings):
    """Groups, users and Chat calls whose pages show every kind of stored outcome."""
    chat_sandbox.import_accounts("user_0001", "user_0002", "user_0003")
    owner = ChatUser.objects.create(user_id="user_0001", nickname="Alice")
    partial = make_group(owner, "partial", [(C2C, "user_0002"), (C2C, "never_imported")])
    sync.sync_group(partial.pk, staff.pk)
    renamed = make_group(owner, "work", [(C2C, "user_0002")])
    sync.sync_group(renamed.pk, staff.pk)
    chat_sandbox.post("recentcontact/update_contact_group", {
        "From_Account": "user_0001", "UpdateType": 1,
        "UpdateGroup": {"UpdateGroupType": 1, "OldGroupName": "work", "NewGroupName": "job"}})
    ContactGroup.objects.filter(pk=renamed.pk).update(name="office")
    sync.sync_group(renamed.pk, staff.pk)
    stranger = ChatUser.objects.create(user_id="not_in_chat")
    failed = make_group(stranger, "lost", [(C2C, "user_0002")])
    with pytest.raises(errors.ChatAccountNotImportedError):
        sync.sync_group(failed.pk, staff.pk)
    sync.check_users([stranger.pk], staff.pk)
    gone = make_group(owner, "gone", [(C2C, "user_0003")])
    sync.sync_group(gone.pk, staff.pk)
    ContactGroup.objects.filter(pk=gone.pk).update(delete_requested=True, state=ContactGroup.State.DELETING)
    sync.sync_group(gone.pk, staff.pk)
    chat_sandbox.post("recentcontact/create_contact_group", {
        "From_Account": "user_0001", "GroupContactItem": [{"GroupName": "from the app",
                                                           "ContactItem": [{"Type": 1, "To_Account": "user_0003"}]}]})
    sync.pull_owner(owner.pk, staff.pk)
    settings.SYNC_MAX_ATTEMPTS = 1
    return {"groups": list(ContactGroup.objects.all()), "users": list(ChatUser.objects.all()),
            "attempt": SyncAttempt.objects.filter(error_code__isnull=False).first()}


def admin_pages(data) -> list[str]:
    urls = [reverse("admin:index"), reverse("admin:app_list", args=["contactgroups"]),
            reverse("admin:contactgroups_contactgroup_changelist"),
            reverse("admin:contactgroups_contactgroup_changelist") + "?state=failed",
            reverse("admin:contactgroups_contactgroup_changelist") + "?q=user_0001",
            reverse("admin:contactgroups_contactgroup_add"),
            reverse("admin:contactgroups_contactgroup_import"),
            reverse("admin:contactgroups_chatuser_changelist"), reverse("admin:contactgroups_chatuser_add"),
            reverse("admin:contactgroups_syncattempt_changelist"),
            reverse("admin:contactgroups_syncattempt_changelist") + "?error_code=50001",
            reverse("admin:contactgroups_syncattempt_change", args=[data["attempt"].pk]),
            reverse("admin:contactgroups_health")]
    for group in data["groups"]:
        urls += [reverse("admin:contactgroups_contactgroup_change", args=[group.pk]),
                 reverse("admin:contactgroups_contactgroup_history", args=[group.pk])]
        if group.state != ContactGroup.State.DELETED:
            urls.append(reverse("admin:contactgroups_contactgroup_delete", args=[group.pk]))
    for user in data["users"]:
        urls += [reverse("admin:contactgroups_chatuser_change", args=[user.pk]),
                 reverse("admin:contactgroups_chatuser_history", args=[user.pk])]
    return urls


@pytest.mark.django_db(transaction=True)
def test_every_admin_page_in_chinese_shows_no_english_message_of_the_app(client, staff, every_kind_of_message):
    client.force_login(staff)
    client.cookies["django_language"] = "zh-hans"
    fragments = english_fragments()
    assert len(fragments) > 100  # the check has something to look for
    shown = {}
    for url in admin_pages(every_kind_of_message):
        response = client.get(url)
        assert response.status_code == 200, url
        shown[url] = page_text(response)
    csv = ("owner,group_name,type,target\nuser_0001,new,1,user_0002\nuser_0001,,1,user_0002\n"
           "user_0001,bad,3,x\nnobody,x,1,user_0002\n")
    preview = client.post(reverse("admin:contactgroups_contactgroup_import"),
                          {"file": SimpleUploadedFile("groups.csv", csv.encode(), content_type="text/csv")})
    assert preview.status_code == 200
    shown["import preview"] = page_text(preview)
    client.logout()  # which forgets the cookies too
    client.cookies["django_language"] = "zh-hans"
    shown["login"] = page_text(client.get(reverse("admin:login")))

    leaks = {url: sorted(f for f in fragments if f in text) for url, text in shown.items()}
    assert {url: found for url, found in leaks.items() if found} == {}
    assert all("会话分组" in text for url, text in shown.items() if url != "login")
    print(f"{len(shown)} pages rendered in zh-hans, {len(fragments)} English fragments looked for")


# Choosing the language ------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_language_is_chosen_on_any_page_and_kept_for_the_staff_member(client, staff):
    client.force_login(staff)
    changelist = client.get(reverse("admin:contactgroups_contactgroup_changelist")).content.decode()
    assert 'id="language-chooser"' in changelist
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert "会话分组" in client.get("/admin/").content.decode()

    elsewhere = type(client)()  # another browser: no cookie, the same staff member
    elsewhere.force_login(staff)
    page = elsewhere.get("/admin/")
    assert "会话分组" in page.content.decode() and page.cookies["django_language"].value == "zh-hans"

    client.post(reverse("set_language"), {"language": "en", "next": "/admin/"})
    assert "Conversation groups" in client.get("/admin/").content.decode()


@pytest.mark.django_db
def test_a_browser_asking_for_chinese_gets_chinese_and_others_english(client, staff):
    client.force_login(staff)
    assert "会话分组" in client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert "Conversation groups" in client.get("/admin/", HTTP_ACCEPT_LANGUAGE="fr-FR").content.decode()


def test_stored_outcomes_are_said_in_the_active_language():
    outcome = {"code": "created", "owner": "user_0001", "group_id": 7, "added": 2,
               "refused": [[C2C, "user_9", 50001, ""]]}
    with translation.override("zh-hans"):
        chinese = words.outcome_text(outcome)
    with translation.override("en"):
        english = words.outcome_text(outcome)
    assert english.startswith("Created in Chat as GroupId 7: 2 conversations added, 1 refused: user_9, 50001")
    assert "7" in chinese and "user_9" in chinese and "Created" not in chinese


@pytest.mark.django_db
def test_times_are_shown_in_the_zone_staff_work_in(client, staff, owner, make_group, settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    group = make_group(owner, "work", last_synced_at=datetime(2026, 1, 1, 0, 0, tzinfo=UTC))
    client.force_login(staff)
    client.cookies["django_language"] = "zh-hans"
    page = page_text(client.get(reverse("admin:contactgroups_contactgroup_change", args=[group.pk])))
    assert "2026年1月1日 08:00" in page
