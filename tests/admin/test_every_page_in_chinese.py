"""Every admin page a superuser can reach, read in Simplified Chinese, shows no English word.

The pages: every URL of the admin site (tests/admin_routes.py: the index, each app's index, each model's list, add
form, the change, history and delete pages of a real row, the project's own pages) and the pages around them (the
login, the second factor's setup and backup codes, the password change), with the data of
tests/project/test_translations.py (every kind of stored outcome) and a row of each of django-axes' models. What a
person reads is taken from each page: its text outside <script> and <style>, and the titles, placeholders, labels
and button captions; the test's own data (names, UserIDs, addresses it created) is taken out first. Any run of
three or more Latin letters left is English a staff member reads, unless it is one of ``ALLOWED``: the words that
stay as they are in both languages (docs/glossary.md).
"""

import html.parser
import re

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import Group
from django.urls import reverse

from contactgroups.chat import protocol
from contactgroups.imports.groups import EXPORTED_COLUMNS
from contactgroups.models import ContactGroup, ContactItem, SyncAttempt
from tests.admin_routes import ADMIN_ROUTES, concrete
from tests.project.test_translations import every_kind_of_message  # noqa: F401,F811  (a fixture)

# The words that stay as they are in Chinese, as Tencent's Chinese documentation keeps them (docs/glossary.md):
# Chat's field names and codes, its product words, file formats, the second factor's standard and HTTP; the
# product's own name (imadmin); the keys a person presses (Django's help for a multiple choice); the columns of an
# import file, which staff type as they are (EXPORTED_COLUMNS).
ALLOWED = {
    "UserID", "UserSig", "SDKAppID", "App", "GroupId", "ToGroupId", "ResultCode", "ResultInfo", "ErrorCode",
    "ErrorInfo", "ActionStatus", "From_Account", "To_Account", "CSV", "XLSX", "UTF-8", "TOTP", "HTTP", "imadmin",
    "LDAP", "Control", "Command", "Mac", *EXPORTED_COLUMNS, "user_id", "nickname",
    *(endpoint.rsplit("/", 1)[-1] for endpoint in protocol.ENDPOINTS),
}
# Chat's endpoint names (the audit's words, shown beside the words for them), the names of settings and
# environment variables an operator types (STAFF_SECOND_FACTOR), Chat's group ids (@TGS#1B2AUI7RZ, an example
# of one) and the secret key of an authenticator app, which the second factor's setup shows to be typed in.
ENDPOINT = re.compile(r"(?:v4/)?\w+/\w+|[a-z]+(?:_[a-z]+)+")
SETTING = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
CHAT_GROUP_ID = re.compile(r"@?TGS#\w+")
SECRET_KEY = re.compile(r"[A-Z2-7]{16,}")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_\-./#@]*")
# The attributes whose text a person reads (or hears from a screen reader).
READ_ATTRIBUTES = ("title", "placeholder", "aria-label")
BUTTONS = ("submit", "button", "reset")


# Not read as the page's words: scripts, styles, the bodies of a Chat call as Chat's JSON (the audit's <pre>) and
# what Django isolates as data (<bdi>: the parts of a password's hash).
UNREAD = ("script", "style", "template", "pre", "bdi")


class ReadText(html.parser.HTMLParser):
    """The text of a page a person reads: text nodes outside ``UNREAD``, and the attributes above."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.hidden = [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in UNREAD:
            self.hidden += 1
        self.parts += [attrs[name] for name in READ_ATTRIBUTES if attrs.get(name)]
        if tag == "input" and attrs.get("type") in BUTTONS and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in UNREAD and self.hidden:
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden and data.strip():
            self.parts.append(data)


def read_text(body: str) -> str:
    parser = ReadText()
    parser.feed(body)
    return " ".join(" ".join(parser.parts).split())


def english_words(text: str, data: list[str]) -> set[str]:
    for datum in sorted(data, key=len, reverse=True):
        text = text.replace(datum, " ")
    words = {word.rstrip(".-/") for word in WORD.findall(text)}
    return {word for word in words if re.search(r"[A-Za-z]{3,}", word) and word not in ALLOWED
            and not any(pattern.fullmatch(word) for pattern in (ENDPOINT, SETTING, CHAT_GROUP_ID, SECRET_KEY))}


@pytest.fixture
def every_row(every_kind_of_message, staff):  # noqa: F811
    """A row of every model a superuser sees, besides the outcomes: django-axes' three, a group of staff users."""
    attempt = AccessAttempt.objects.create(username="support", ip_address="127.0.0.1", user_agent="agent/1",
                                           http_accept="*/*", path_info="/admin/login/", get_data="", post_data="",
                                           failures_since_start=2)
    log = AccessLog.objects.create(username="support", ip_address="127.0.0.1", user_agent="agent/1",
                                   http_accept="*/*", path_info="/admin/login/")
    failure = AccessFailureLog.objects.create(username="support", ip_address="127.0.0.1", user_agent="agent/1",
                                              http_accept="*/*", path_info="/admin/login/", locked_out=False)
    team = Group.objects.create(name="team")
    group = next(group for group in every_kind_of_message["groups"] if group.state == ContactGroup.State.SYNCED)
    rows = {"chatuser": group.owner, "contactgroup": group, "contactitem": group.items.first(),
            "syncattempt": every_kind_of_message["attempt"], "user": staff, "group": team,
            "accessattempt": attempt, "accesslog": log, "accessfailurelog": failure}
    version = group.versions.first()
    # The test's own names (and those the fixture's groups had before a rename), what django-axes stores for a
    # request without an address or agent, and the operations the audit recorded (Chat's names for them).
    data = ["support", "team", "agent/1", "127.0.0.1", "/admin/login/", "*/*", "<unknown>", "Alice", "from the app",
            "work", "job"]
    data += list(SyncAttempt.objects.values_list("operation", flat=True).distinct())
    data += [group.name for group in ContactGroup.objects.all()]
    data += [item.target for item in ContactItem.objects.all()]
    data += list(ContactGroup.objects.values_list("owner__user_id", flat=True))
    return rows, version, data


def pages(rows, version) -> list[str]:
    """Every admin URL for these rows, and the pages around the admin a staff member reads."""
    urls = []
    for route in ADMIN_ROUTES:
        if "{app_label}" in route:
            urls += [f"/admin/{label}/" for label in ("contactgroups", "auth", "axes")]
        elif "{version_id}" in route:
            if version:
                urls.append(concrete(route.replace("{version_id}", str(version.pk)), rows))
        else:
            urls.append(concrete(route, rows))
    changelist = reverse("admin:contactgroups_contactgroup_changelist")
    return urls + [changelist + "?state=failed", changelist + "?q=nothing-matches",
                   reverse("two_factor:setup"), reverse("two_factor:backup_tokens")]


@pytest.mark.django_db(transaction=True)
def test_every_page_a_superuser_reaches_in_chinese_reads_without_an_english_word(client, staff, every_row):
    rows, version, data = every_row
    client.force_login(staff)
    client.cookies["django_language"] = "zh-hans"
    english, read = {}, 0
    for url in pages(rows, version):
        response = client.get(url)
        if 300 <= response.status_code < 400 or not response.get("Content-Type", "").startswith("text/html"):
            continue
        read += 1
        found = english_words(read_text(response.content.decode()), data)
        if found:
            english[url] = sorted(found)
    client.logout()
    client.cookies["django_language"] = "zh-hans"
    login = reverse("admin:login")
    found = english_words(read_text(client.get(login).content.decode()), data)
    if found:
        english[login] = sorted(found)
    assert read > 50  # the walk reached the pages
    assert english == {}, "\n".join(f"{url}: {' '.join(words)}" for url, words in english.items())


def test_the_reader_finds_english_words_and_only_those():
    text = read_text('<p title="Save it">保存 <b>ResultCode</b> 50001</p><script>var English = 1;</script>'
                     '<input type="submit" value="Delete"><input type="text" value="typed">'
                     '<td>get_contact_group</td><td>STAFF_SECOND_FACTOR</td><td>u_01 ok</td>')
    assert english_words(text, []) == {"Save", "Delete"}
    assert english_words("Alice 的分组", ["Alice"]) == set()



@pytest.mark.parametrize(("language", "change", "choose"), [("zh-hans", "修改", "切换"), ("en", "Change", "Change")])
def test_the_change_links_say_change_and_the_language_chooser_its_own_word(client, staff, language, change, choose):
    """Django's "Change" (修改) on the index and an app's index, and the language chooser's button (切换), each in its
    own words: the chooser's has a context of its own and overrides nothing of Django's."""
    client.force_login(staff)
    client.cookies["django_language"] = language
    index = client.get(reverse("admin:index")).content.decode()
    links = re.findall(r'<a href="/admin/contactgroups/contactgroup/" class="changelink"[^>]*>([^<]*)</a>', index)
    assert links and set(links) == {change}
    app_index = client.get(reverse("admin:app_list", args=["contactgroups"])).content.decode()
    links = re.findall(r'class="changelink"[^>]*>([^<]*)</a>', app_index)
    assert links and set(links) == {change}
    assert re.search(rf'<noscript><button type="submit">{choose}</button></noscript>', index)
