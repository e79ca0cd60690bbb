"""How the admin shows Chat's codes (the code and what it means) and the buttons that act on a refusal."""

from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

from contactgroups import words
from contactgroups.chat import errors
from contactgroups.models import ChatUser

# The form the buttons below submit (templates/admin/contactgroups/chat_actions_form.html).
CHAT_ACTIONS_FORM = "chat-actions"


def code_with_meaning(code, info="") -> str:
    """``code: meaning``, with Chat's ``info`` only for a code the project does not document; a dash for no code."""
    if code is None:
        return "—"
    text = words.meaning(code) if code == errors.CODE_UNREADABLE else f"{code}: {words.meaning(code)}"
    return f"{text} ({info})" if info and not errors.is_documented(code) else text


@dataclass(frozen=True)
class ChatActions:
    """What the staff viewing a page may do about a refusal there, found once per page (admin pages set it).

    ``import_url`` when they may import Chat users (and ``add_users`` when they may also add the Chat user a
    conversation names but the mirror does not have); ``sync_url`` when they may sync the page's group again.
    """

    import_url: str = ""
    add_users: bool = False
    sync_url: str = ""

    def __bool__(self):
        return bool(self.import_url or self.sync_url)

    def may_import(self, user_id: str, known: bool) -> bool:
        return bool(self.import_url) and (known or self.add_users)


def import_button(actions: ChatActions, user_id: str):
    return format_html(
        '<button type="submit" class="button chat-import" form="{}" formaction="{}" name="user_id" value="{}">{}'
        "</button>", CHAT_ACTIONS_FORM, actions.import_url, user_id, _("Import this user into Chat"))


def sync_button(actions: ChatActions):
    return format_html('<button type="submit" class="button chat-sync" form="{}" formaction="{}">{}</button>',
                       CHAT_ACTIONS_FORM, actions.sync_url, _("Sync this group again"))


def not_imported_offers(actions: ChatActions | None, users: list[str], states: dict[str, str]):
    """For each UserID Chat refused as not imported: the import button, or that it is imported now."""
    if actions is None or not users:
        return ""
    rows = []
    for user_id in users:
        state = states.get(user_id)
        if state == ChatUser.ImportState.IMPORTED:
            rows.append((user_id, _("imported in Chat now")))
        elif actions.may_import(user_id, known=state is not None):
            rows.append((user_id, import_button(actions, user_id)))
    return format_html_join("", '<span class="chat-offer"><span class="user-id">{}</span>: {}</span>', rows)


def with_offer(text, offer):
    """A field's text with the buttons under it, when there are any."""
    return format_html("{}{}", text, offer) if offer else text
