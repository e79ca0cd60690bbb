"""The client's checks of a request before it is sent: what Chat would refuse is a ValueError, and nothing is sent.

Each check reads Chat's documented limits in ``protocol``. ``MAX_PAGES`` bounds a paging loop.
"""

from collections.abc import Sequence

from contactgroups.chat import protocol
from contactgroups.chat.types import Conversation

# A paging loop that has not finished after this many pages is broken, not long.
MAX_PAGES = 10_000


def require(messages: list[str], what: str) -> None:
    """A ValueError naming ``what`` with the ``messages`` of a protocol check, if it gave any."""
    if messages:
        raise ValueError(f"{what}: {' '.join(messages)}")


def owner(owner: str) -> None:
    """A UserID Chat takes (the owner of a request, or one to import)."""
    require(protocol.validate_user_id(owner), f"UserID {owner!r}")


def nickname(user_id: str, nickname: str) -> None:
    """A nickname Chat keeps for ``user_id``."""
    require(protocol.validate_nickname(nickname), f"Nickname of {user_id!r}")


def new_group_name(name: str) -> None:
    """A name sent to Chat for a group: every check of ``protocol.validate_group_name``."""
    require(protocol.validate_group_name(name), f"Group name {name!r}")


def existing_group_name(name: str) -> None:
    """A name that addresses a group Chat already has: it may have been made in an app, so only Chat's limits."""
    if not name:
        raise ValueError("A group name cannot be empty.")
    if protocol.utf8_length(name) > protocol.GROUP_NAME_MAX_BYTES:
        require(protocol.validate_group_name(name), f"Group name {name!r}")


def conversations(conversations: Sequence[Conversation], maximum: int, what: str) -> list[Conversation]:
    """``conversations`` as a list: each one Chat takes, at most ``maximum``, none twice."""
    items = list(conversations)
    for conversation in items:
        if not isinstance(conversation, Conversation):
            raise TypeError(f"Expected a Conversation, got {conversation!r}.")
        require(conversation.problems(), f"Conversation {conversation}")
    if len(items) > maximum:
        raise ValueError(f"{what} has {len(items)} conversations; Chat takes at most {maximum} in one request.")
    repeated = protocol.find_duplicates((conversation.type, conversation.target) for conversation in items)
    if repeated:
        names = ", ".join(str(Conversation(*key)) for key in repeated)
        raise ValueError(f"{what} names the same conversation more than once: {names}.")
    return items


def user_ids(user_ids: Sequence[str]) -> list[str]:
    """``user_ids`` once each, in order, each one Chat takes."""
    if isinstance(user_ids, str):
        raise TypeError("Pass a list of UserIDs, not one string.")
    unique = list(dict.fromkeys(user_ids))
    for user_id in unique:
        owner(user_id)
    return unique
