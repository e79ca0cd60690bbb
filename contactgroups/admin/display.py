"""How the admin shows Chat's codes (the code and what it means) and the buttons that act on a refusal or on a
retry that waits."""

from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

from contactgroups.models import ChatUser

# The form the buttons below submit (templates/admin/contactgroups/chat_actions_form.html).
CHAT_ACTIONS_FORM = "chat-actions"


@dataclass(frozen=True)
class ChatActions:
    """What the staff viewing a page may do about a refusal there, found once per page (admin pages set it).

    ``import_url`` when they may import Chat users (and ``add_users`` when they may also add the Chat user a
    conversation names but the mirror does not have); ``sync_url`` when they may sync the page's group again.
    """

    import_url: str = ""
    add_users: bool = False
    sync_url: str = ""
    retry_url: str = ""  # when they may bring the group's waiting retry forward ("Retry now")

    def __bool__(self):
        return bool(self.import_url or self.sync_url or self.retry_url)

    def may_import(self, user_id: str, known: bool) -> bool:
        return bool(self.import_url) and (known or self.add_users)


@dataclass(frozen=True)
class Offer:
    """One thing a page offers about a refusal, as data: the UserID it is about (if any), then either words or a
    button that submits the page's actions form (CHAT_ACTIONS_FORM) to ``formaction``.

    The page renders it with ``as_html``; the status JSON carries ``as_data`` and the page's script builds the same
    elements from it as text, so nothing Chat or the app stored is ever read as markup.
    """

    user_id: str = ""
    words: str = ""
    kind: str = ""  # the button's: "import" (sends the UserID as user_id), "sync" or "retry"
    label: str = ""
    formaction: str = ""

    def button_fields(self) -> dict:
        """The button's attributes after its type and class, in the order the page writes them."""
        fields = {"form": CHAT_ACTIONS_FORM, "formaction": self.formaction}
        if self.kind == "import":
            fields.update(name="user_id", value=self.user_id)
        return fields

    def as_html(self):
        if self.kind:
            attributes = format_html_join("", ' {}="{}"', self.button_fields().items())
            what = format_html('<button type="submit" class="button chat-{}"{}>{}</button>', self.kind, attributes,
                               self.label)
        else:
            what = self.words
        if self.user_id:
            return format_html('<span class="chat-offer"><span class="user-id">{}</span>: {}</span>',
                               self.user_id, what)
        return format_html('<span class="chat-offer">{}</span>', what)

    def as_data(self) -> dict:
        button = {"kind": self.kind, "label": self.label, **self.button_fields()} if self.kind else None
        return {"user_id": self.user_id, "words": self.words, "button": button}


def import_offer(actions: ChatActions, user_id: str) -> Offer:
    return Offer(user_id=user_id, kind="import", label=_("Import this user into Chat"),
                 formaction=actions.import_url)


def sync_offer(actions: ChatActions) -> Offer:
    return Offer(kind="sync", label=_("Sync this group again"), formaction=actions.sync_url)


def retry_offer(actions: ChatActions) -> Offer:
    return Offer(kind="retry", label=_("Retry now"), formaction=actions.retry_url)


def not_imported_offers(actions: ChatActions | None, users: list[str], states: dict[str, str]) -> list[Offer]:
    """For each UserID Chat refused as not imported: the import button, or that it is imported now."""
    if actions is None or not users:
        return []
    offers = []
    for user_id in users:
        state = states.get(user_id)
        if state == ChatUser.ImportState.IMPORTED:
            offers.append(Offer(user_id=user_id, words=_("imported in Chat now")))
        elif actions.may_import(user_id, known=state is not None):
            offers.append(import_offer(actions, user_id))
    return offers


def offers_html(offers: list[Offer]):
    return format_html_join("", "{}", ((offer.as_html(),) for offer in offers))


def with_offer(text, offers: list[Offer]):
    """A field's text with the buttons under it, when there are any."""
    return format_html("{}{}", text, offers_html(offers)) if offers else text
