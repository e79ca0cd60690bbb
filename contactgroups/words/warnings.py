"""The group form's words: its warnings (``outcomes.SaveWarning``, made by ``forms.save_warnings``) and its refusals."""

from collections.abc import Callable

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from contactgroups.chat import errors
from contactgroups.outcomes import SaveWarning, WarningCode
from contactgroups.words.chat import code_text, listed


def _owner_not_imported(warning: SaveWarning) -> str:
    return _("The owner %(user)s is not imported in Chat, as far as this admin knows, so Chat will refuse the whole "
             "group: %(code)s") % {"user": warning.user, "code": code_text(errors.ACCOUNT_NOT_IMPORTED)}


def _targets_not_imported(warning: SaveWarning) -> str:
    return ngettext(
        "%(list)s is not imported in Chat, as far as this admin knows, so Chat will refuse that conversation: "
        "%(code)s",
        "%(list)s are not imported in Chat, as far as this admin knows, so Chat will refuse those conversations: "
        "%(code)s",
        len(warning.users),
    ) % {"list": listed(warning.users), "code": code_text(errors.ACCOUNT_NOT_IMPORTED)}


def _group_id_as_user(warning: SaveWarning) -> str:
    text = ngettext(
        "%(list)s looks like a Chat group id, but is typed as the UserID of a one-to-one conversation. For a group "
        "chat, choose the type “Group conversation” and put the id under group id.",
        "%(list)s look like Chat group ids, but are typed as the UserIDs of one-to-one conversations. For a group "
        "chat, choose the type “Group conversation” and put the id under group id.",
        len(warning.targets),
    ) % {"list": listed(warning.targets)}
    if warning.known:
        text += " " + _("Other groups here hold %(list)s as a group conversation.") % {"list": listed(warning.known)}
    return text


# A save warning in words, one reader a code.
WARNING_WORDS: dict[WarningCode, Callable[[SaveWarning], str]] = {
    WarningCode.OWNER_NOT_IMPORTED: _owner_not_imported,
    WarningCode.TARGETS_NOT_IMPORTED: _targets_not_imported,
    WarningCode.GROUP_ID_AS_USER: _group_id_as_user,
}


def save_warning_text(data: dict) -> str:
    """A warning of the group form (forms.save_warnings) in words."""
    warning = SaveWarning.from_json(data)
    return "" if warning is None else WARNING_WORDS[warning.code](warning)


# -- the form's own refusals -------------------------------------------------------------------------------------


def name_used_text(user: str, name: str) -> str:
    """The owner has another group of this name here."""
    return _("%(user)s already has a conversation group named “%(name)s”.") % {"user": user, "name": name}


def listed_twice_text(targets: list[str]) -> str:
    """Conversations listed more than once in one group."""
    return ngettext("This conversation is listed twice in the group: %(list)s.",
                    "These conversations are listed more than once in the group: %(list)s.",
                    len(targets)) % {"list": ", ".join(targets)}
