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


def test_the_users_status_answers_staff_who_may_view_users_and_forgets_a_followed_import_once_answered(
        client, staff, django_user_model):
    from django.contrib.auth.models import Permission

    from contactgroups.admin import accounts_live

    user = ChatUser.objects.create(user_id="<b>bob</b>", import_state=ChatUser.ImportState.FAILED,
                                   last_error_code=70402, last_error_info="<script>x</script>")
    status = reverse("admin:contactgroups_chatuser_statuses")
    clerk = django_user_model.objects.create_user("clerk", password="clerk-password", is_staff=True)
    client.force_login(clerk)
    assert client.get(status, {"id": user.pk}).status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="view_chatuser"))
    answer = client.get(status, {"id": [user.pk, "not-an-id"]})
    assert b"<" not in answer.content  # nothing Chat or an end user gave reads as markup
    assert [(u["id"], u["text"], u["final"]) for u in answer.json()["users"]] == [(user.pk, "Import failed", True)]

    client.force_login(staff)
    session = client.session
    session[accounts_live.FOLLOWED] = {"pks": [user.pk], "since": "2999-01-01T00:00:00+00:00"}
    session.save()
    page = client.get(reverse("admin:contactgroups_chatuser_changelist")).content.decode()
    assert 'id="accounts-following"' in page and "accounts_live.js" in page
    assert client.get(status, {"id": user.pk}).json()["users"][0]["final"] is False
    ChatUser.objects.filter(pk=user.pk).update(updated_at="3000-01-01T00:00:00Z")
    assert "accounts_live.js" not in client.get(reverse("admin:contactgroups_chatuser_changelist")).content.decode()
    assert accounts_live.FOLLOWED not in client.session
