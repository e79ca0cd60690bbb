"""Chat's own facts in words: its codes and their meanings, a failure (``outcomes.Failure``), a conversation, a call."""

from collections.abc import Callable

from django.template.defaultfilters import filesizeformat
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from contactgroups.chat import errors, protocol
from contactgroups.outcomes import ErrorKind, Failure


def lazy_format(template, **params):
    """``template % params``, made when shown: for a lazily translated text with numbers in it (a help text)."""
    return lazy(lambda: str(template) % params, str)()


def say(message) -> str:
    """A message of the Chat layer (``protocol.Message``, an error's meaning) in the reader's language."""
    template = getattr(message, "template", None)
    if template is None:
        return _(str(message)) if message else ""
    return _(template) % message.params if message.params else _(template)


def conversation_text(conversation) -> str:
    """A conversation as staff read it: the UserID, or "group <ToGroupId>"."""
    kind, target = conversation[0], conversation[1]
    return target if kind == protocol.TYPE_C2C else _("group %(id)s") % {"id": target}


def joined(conversations) -> str:
    return ", ".join(conversation_text(c) for c in conversations)


def listed(items, most: int = 10) -> str:
    """Up to ``most`` items, then how many more."""
    items = list(items)
    text = ", ".join(items[:most])
    if len(items) > most:
        more = len(items) - most
        text += " " + ngettext("and %(count)d more", "and %(count)d more", more) % {"count": more}
    return text


def meaning(code: int | None) -> str:
    """What Chat's code means, in the reader's language."""
    return say(errors.describe(code))


def code_number(code: int) -> str:
    """Chat's code as its number, or a question mark for a code past any this admin keeps (its meaning says so)."""
    return "?" if code == errors.CODE_UNREADABLE else str(code)


def said_whole(code) -> bool:
    """Whether ``code``'s meaning is said on its own, not as "Chat error <number>": a code this admin cannot read."""
    return code == errors.CODE_UNREADABLE


def code_text(code: int | None, info: str = "") -> str:
    """Chat's code with its meaning; Chat's own text (``info``) only for a code the project does not document.

    Chat writes its text for developers, naming its JSON fields (``To_Account user_9 is not imported``): the staff
    read the meaning, and the audit keeps the text.
    """
    text = f"{code} {meaning(code)}" if code is not None and not said_whole(code) else meaning(code)
    return text + (f" ({info})" if info and not errors.is_documented(code) else "")


def too_slow_text(seconds) -> str:
    """Chat went past a call's deadline of ``seconds``."""
    return _("Chat was too slow: its whole answer had not come within %(seconds)s s.") % {
        "seconds": f"{seconds:g}" if isinstance(seconds, int | float) else "?"}


def too_large_text(limit) -> str:
    """Chat's answer went past the ``limit`` bytes the admin reads."""
    size = filesizeformat(limit) if isinstance(limit, int) else "?"
    return _("Chat answered too much: more than %(size)s, the most this admin reads of one answer.") % {"size": size}


def _transport(error: Failure) -> str:
    if error.http_status:
        return _("Chat's server failed (HTTP %(status)s).") % {"status": error.http_status}
    return _("No answer from Chat in time.")


def _answer(error: Failure) -> str:
    if error.http_status not in (None, 200):
        return _("Chat answered with HTTP %(status)s and nothing this admin can read.") % {"status": error.http_status}
    return _("Chat answered in a form this admin cannot read; its answer is kept with the Chat calls.")


def _chat(error: Failure) -> str:
    if said_whole(error.code):
        return code_text(error.code, error.info)
    return _("Chat error %(code)s") % {"code": code_text(error.code, error.info)}


def _internal(error: Failure) -> str:
    return _("An unexpected error stopped it (%(type)s); see the server log.") % {"type": error.type}


# A stored failure in words, one reader a kind.
FAILURE_WORDS: dict[ErrorKind, Callable[[Failure], str]] = {
    ErrorKind.CONNECT: lambda error: _("Could not connect to Chat; nothing was sent."),
    ErrorKind.TOO_SLOW: lambda error: too_slow_text(error.seconds),
    ErrorKind.TOO_LARGE: lambda error: too_large_text(error.limit),
    ErrorKind.TRANSPORT: _transport,
    ErrorKind.THROTTLED: lambda error: _("Chat asked for fewer calls a second (%(code)s).") % {
        "code": code_text(error.code, error.info)},
    ErrorKind.ANSWER: _answer,
    ErrorKind.CHAT: _chat,
    ErrorKind.BUSY: lambda error: _("Another sync of this group was running."),
    ErrorKind.QUEUE: lambda error: _("The task queue could not be reached, so nothing was sent to Chat."),
    ErrorKind.INTERNAL: _internal,
}


def failure_text(error: Failure) -> str:
    return FAILURE_WORDS[error.kind](error)


def error_text(error: dict) -> str:
    """A stored failure (sync.outcome.error_data) in words."""
    return failure_text(Failure.from_json(error))


def _read_transport(error: Failure, seconds: float) -> str:
    if error.http_status:
        return _("Chat answered with HTTP %(status)s.") % {"status": error.http_status}
    return _("Chat did not answer within %(seconds)s s.") % {"seconds": f"{seconds:g}"}


def _read_chat(error: Failure, seconds: float) -> str:
    if said_whole(error.code):
        return code_text(error.code, error.info)
    return _("Chat error %(code)s.") % {"code": code_text(error.code, error.info)}


# Why Chat could not be read while a page waited, one reader a kind (a queue is never waited on: said as a failure).
READ_FAILURE_WORDS: dict[ErrorKind, Callable[[Failure, float], str]] = {
    ErrorKind.CONNECT: lambda error, seconds: _("Chat could not be reached."),
    ErrorKind.TOO_SLOW: lambda error, seconds: too_slow_text(seconds if error.seconds is None else error.seconds),
    ErrorKind.TOO_LARGE: lambda error, seconds: too_large_text(error.limit),
    ErrorKind.TRANSPORT: _read_transport,
    ErrorKind.THROTTLED: lambda error, seconds: _("Chat asked for fewer calls a second (%(code)s).") % {
        "code": code_text(error.code)},
    ErrorKind.ANSWER: lambda error, seconds: failure_text(error),
    ErrorKind.CHAT: _read_chat,
    ErrorKind.BUSY: lambda error, seconds: _("A sync of this group is running."),
    ErrorKind.QUEUE: lambda error, seconds: failure_text(error),
    ErrorKind.INTERNAL: lambda error, seconds: _internal(error),
}


def chat_read_failure_text(error: dict, seconds: float) -> str:
    """Why Chat could not be read for a group page (a stored failure, sync.outcome.error_data)."""
    failure = Failure.from_json(error)
    return READ_FAILURE_WORDS[failure.kind](failure, seconds)


# What each Chat call does, in staff words, by the operation the audit stores (the endpoint's last part).
OPERATION_WORDS = {
    endpoint.rsplit("/", 1)[-1]: words for endpoint, words in {
        protocol.CREATE_CONTACT_GROUP: gettext_noop("create a group"),
        protocol.UPDATE_CONTACT_GROUP: gettext_noop("change a group"),
        protocol.DEL_CONTACT_GROUP: gettext_noop("delete a group"),
        protocol.GET_CONTACT_GROUP: gettext_noop("read a user's groups"),
        protocol.SEARCH_CONTACT_GROUP: gettext_noop("find conversations' groups"),
        protocol.MARK_CONTACT: gettext_noop("mark conversations"),
        protocol.GET_LIST: gettext_noop("read recent conversations"),
        protocol.DELETE_CONVERSATION: gettext_noop("delete a conversation"),
        protocol.ACCOUNT_IMPORT: gettext_noop("import a user"),
        protocol.MULTIACCOUNT_IMPORT: gettext_noop("import users"),
        protocol.ACCOUNT_CHECK: gettext_noop("check users are imported"),
    }.items()
}


def operation_text(operation: str) -> str:
    """What a Chat call did, in staff words; an operation the project does not call, as stored."""
    words = OPERATION_WORDS.get(operation)
    return _(words) if words else operation
