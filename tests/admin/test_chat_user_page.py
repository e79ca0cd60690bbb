"""The Chat user page: one "Last error" row, Chat's code with its meaning (and Chat's own text only for a code the
project does not document), in English and Chinese."""

import re

import pytest
from django.urls import reverse

from contactgroups.models import ChatUser

LAST_ERROR_ROW = re.compile(r'<div class="form-row field-(\w+)">.*?<label>([^<]*)</label>\s*<div class="readonly">'
                            r"(.*?)</div>", re.S)


def rows(client, user) -> dict[str, tuple[str, str]]:
    """The page's read-only rows: {field: (label, text)}."""
    page = client.get(reverse("admin:contactgroups_chatuser_change", args=[user.pk])).content.decode()
    return {field: (label, re.sub(r"<[^>]+>", "", text).strip()) for field, label, text in LAST_ERROR_ROW.findall(page)}


@pytest.mark.parametrize(("language", "label", "meaning"), [
    ("en", "Last error:", "70402: A required account field is missing or does not have the form Chat expects."),
    ("zh-hans", "上次错误:", "70402: 缺少必填的账号字段，或其格式不符合 IM 的要求。"),
])
def test_the_page_shows_one_last_error_row_with_the_code_and_its_meaning(client, staff, language, label, meaning):
    user = ChatUser.objects.create(user_id="bob", import_state=ChatUser.ImportState.FAILED, last_error_code=70402,
                                   last_error_info="AccountList.Nick: wrong type")
    client.force_login(staff)
    client.cookies["django_language"] = language
    shown = rows(client, user)
    errors = [(field, row) for field, row in shown.items() if "error" in field or "error" in row[0].lower()
              or "错误" in row[0]]
    assert errors == [("last_error", (label, meaning))]


def test_an_undocumented_code_shows_chats_own_text_in_the_same_row(client, staff):
    user = ChatUser.objects.create(user_id="bob", import_state=ChatUser.ImportState.FAILED, last_error_code=99999,
                                   last_error_info="something Chat said")
    client.force_login(staff)
    label, text = rows(client, user)["last_error"]
    assert text.startswith("99999: ") and text.endswith("(something Chat said)")
