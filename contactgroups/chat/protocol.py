"""Chat's protocol facts: every documented limit, the endpoints, field spellings and flags, and pure validators.

This module is the one home of these facts. Forms, the CSV import, the sync, the
management commands, the client and the Chat sandbox import them from here. It knows
nothing of Django models or of HTTP, so any layer may use it.

Each validator returns a list of readable messages (empty when the value is fine),
so callers decide how to show them: a form error, a CSV report line, a sandbox
``ErrorInfo``. A message is English text that keeps its template and parameters
(``Message``), so the admin can say it in the reader's language (``contactgroups.words.say``).
"""

import re
from collections.abc import Iterable

# create_contact_group / update_contact_group: GroupName and NewGroupName, counted in
# UTF-8 bytes (seed page; exceeding it is 51011).
GROUP_NAME_MAX_BYTES = 64

# A conversation group's GroupId is an Integer Chat assigns (small numbers in practice, with no documented
# bound). The mirror keeps it in a 64-bit column; an answer naming an id outside 0..this is read as an answer
# of the wrong shape rather than stored.
CONTACT_GROUP_ID_MAX = 2**63 - 1

# Each user can have at most 20 conversation groups (exceeding it is 51010).
GROUPS_PER_USER_MAX = 20

# At most 1,000 distinct conversations of one user can be grouped, across all of the
# user's groups (exceeding it is 51008).
GROUPED_CONVERSATIONS_PER_USER_MAX = 1000

# One create or update request carries at most 100 conversations (exceeding it is 51006).
CONVERSATIONS_PER_REQUEST_MAX = 100

# create_contact_group takes one group per call; del_contact_group one name per call.
GROUPS_PER_CREATE_MAX = 1
GROUPS_PER_DELETE_MAX = 1

# A UserID (From_Account, To_Account, account_import UserID) is at most 32 bytes.
USER_ID_MAX_BYTES = 32

# A profile value sent on import (Nick, FaceUrl) is a string of at most 500 bytes: the standard profile fields
# Tag_Profile_IM_Nick and Tag_Profile_IM_Image ("资料管理", https://cloud.tencent.com/document/product/269/1500;
# https://trtc.io/document/33520). Chat refuses a longer one with 40601.
PROFILE_VALUE_MAX_BYTES = 500

# multiaccount_import and account_check take at most 100 accounts a call.
ACCOUNTS_PER_IMPORT_MAX = 100
ACCOUNTS_PER_CHECK_MAX = 100

# search_contact_group looks up at most 300 conversations a call.
CONVERSATIONS_PER_SEARCH_MAX = 300

# mark_contact takes at most 100 MarkItem entries; a CustomMark is at most 256 bytes.
MARK_ITEMS_PER_REQUEST_MAX = 100
CUSTOM_MARK_MAX_BYTES = 256
# A standard mark is one of 64 bits, numbered 0 to 63 in SetMark and ClearMark.
STANDARD_MARK_BITS = 64
# At most 1,000 conversations of one user can carry marks or custom data (exceeding it is 51008).
MARKED_CONVERSATIONS_PER_USER_MAX = 1000

# Documented call frequency, per SDKAppID and endpoint ("maximum call frequency" on each endpoint's page): 200
# calls a second for every recentcontact endpoint and account_import, 100 for multiaccount_import and
# account_check. CALLS_PER_SECOND (below ENDPOINTS) gives each endpoint its own.
CALLS_PER_SECOND_MAX = 200
ACCOUNT_BATCH_CALLS_PER_SECOND_MAX = 100

# Conversation types (ContactItem.Type).
TYPE_C2C = 1
TYPE_GROUP = 2

# The UserSig is a signed token; Tencent's libraries default to 180 days.
USERSIG_DEFAULT_EXPIRE_SECONDS = 180 * 86400

# A group id of a Chat group conversation (ToGroupId). Chat documents no byte limit
# for it; 48 bytes leaves room for every id form Chat issues (for example @TGS#...).
GROUP_CONVERSATION_ID_MAX_BYTES = 48

# Every group id Chat assigns starts with @TGS# (for example @TGS#1B2AUI7RZ; a community's @TGS#_...), and a
# custom group id may not take that prefix ("Group System", custom group IDs: https://trtc.io/document/33529).
GROUP_ID_ASSIGNED_PREFIX = "@TGS#"


# Endpoints, as they appear after /v4/ in the URL.
CREATE_CONTACT_GROUP = "recentcontact/create_contact_group"
UPDATE_CONTACT_GROUP = "recentcontact/update_contact_group"
DEL_CONTACT_GROUP = "recentcontact/del_contact_group"
GET_CONTACT_GROUP = "recentcontact/get_contact_group"
SEARCH_CONTACT_GROUP = "recentcontact/search_contact_group"
MARK_CONTACT = "recentcontact/mark_contact"
GET_LIST = "recentcontact/get_list"
DELETE_CONVERSATION = "recentcontact/delete"
ACCOUNT_IMPORT = "im_open_login_svc/account_import"
MULTIACCOUNT_IMPORT = "im_open_login_svc/multiaccount_import"
ACCOUNT_CHECK = "im_open_login_svc/account_check"
# Every endpoint this project uses.
ENDPOINTS = (
    CREATE_CONTACT_GROUP, UPDATE_CONTACT_GROUP, DEL_CONTACT_GROUP, GET_CONTACT_GROUP, SEARCH_CONTACT_GROUP,
    MARK_CONTACT, GET_LIST, DELETE_CONVERSATION, ACCOUNT_IMPORT, MULTIACCOUNT_IMPORT, ACCOUNT_CHECK,
)
# Each endpoint's documented call frequency.
CALLS_PER_SECOND = {
    endpoint: (ACCOUNT_BATCH_CALLS_PER_SECOND_MAX if endpoint in (MULTIACCOUNT_IMPORT, ACCOUNT_CHECK)
               else CALLS_PER_SECOND_MAX)
    for endpoint in ENDPOINTS
}
# Endpoints that change nothing in Chat.
READ_ENDPOINTS = frozenset({GET_CONTACT_GROUP, SEARCH_CONTACT_GROUP, GET_LIST, ACCOUNT_CHECK})
# Endpoints whose documented sample answers carry ErrorDisplay (an empty string) next to ErrorInfo: create
# (https://trtc.io/document/53437), delete (https://trtc.io/document/43088), get_list
# (https://cloud.tencent.com/document/product/269/62118) and search_contact_group (https://trtc.io/zh/document/53442).
# Chat documents it as optional ("detailed info to show on the client"); the client never needs it.
ERROR_DISPLAY_ENDPOINTS = frozenset({CREATE_CONTACT_GROUP, DELETE_CONVERSATION, GET_LIST, SEARCH_CONTACT_GROUP})

# update_contact_group: UpdateType 1 is the only documented value ("update by group").
UPDATE_BY_GROUP = 1
# UpdateGroup.UpdateGroupType.
RENAME_GROUP = 1
CHANGE_MEMBERS = 2
# ContactUpdateItem.ContactOptType (and ItemResult.operation of an update).
OPERATION_ADD = 1
OPERATION_REMOVE = 2
# mark_contact MarkItem.OptType.
MARK_STANDARD = 1
MARK_CUSTOM = 2
MARK_BOTH = 3
# get_list AssistFlags: the current page asks for 63 "for complete data" (bit 0 pinned conversations,
# bit 1 empty conversations, bit 2 paged pinned conversations, higher bits marks and groups).
GET_LIST_ASSIST_FLAGS = 63
# get_list's paging: Chat answers each page with these four numbers and takes them back for the next page, all 0
# for the first (conversations by TimeStamp and StartIndex, pinned ones by TopTimeStamp and TopStartIndex). Pinned
# conversations (TopFlag 1) come first. CompleteFlag 1 marks the last page. Chat documents no page size, and a list
# may hold thousands of conversations.
GET_LIST_PAGING_FIELDS = ("TimeStamp", "StartIndex", "TopTimeStamp", "TopStartIndex")
GET_LIST_COMPLETE = 1
# ActionStatus: "OK" or "FAIL". The audit keeps at most this many characters of whatever Chat sends there.
ACTION_STATUS_MAX_CHARS = 8
# account_check AccountStatus.
ACCOUNT_IMPORTED = "Imported"
ACCOUNT_NOT_IMPORTED = "NotImported"

# get_contact_group: the last page (CompleteFlag 1) carries NextStartIndex 0, as the page's sample answer does.
LAST_PAGE_NEXT_START_INDEX = 0

# Key spellings of a conversation's target. Requests use To_Account / ToGroupId; recentcontact/delete spells
# the group id ToGroupid; get_list answers with GroupId.
TO_ACCOUNT = "To_Account"
TO_GROUP_ID = "ToGroupId"
TO_GROUP_ID_DELETE = "ToGroupid"
GROUP_ID_GET_LIST = "GroupId"

def utf8_length(text: str) -> int:
    """Number of bytes ``text`` takes in UTF-8, the unit Chat counts limits in (a lone surrogate counts 3)."""
    return len(text.encode("utf-8", "surrogatepass"))


# Text no database column can hold: a NUL, or a lone surrogate (half of a UTF-16 pair). PostgreSQL refuses both in
# text and jsonb, and neither database's driver can encode a lone surrogate; yet JSON's \u0000 and \ud800 escapes
# decode to them, so Chat may hand out either (end users name their groups in the app). Requests cannot carry a
# lone surrogate (Django decodes them with replacement characters), only a NUL.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> bool:
    """Whether a text column of either database can hold ``text`` as it is."""
    return _UNSTORABLE.search(text) is None


def escaped(value):
    """``value`` (text, or JSON data) with each character no column can hold written as the visible text
    ``\\uXXXX``, everything else as it was: how a record of what Chat said (the audit's bodies, ErrorInfo,
    ResultInfo) is kept. What names something (a group name, a UserID) is never escaped but refused."""
    if isinstance(value, str):
        return _UNSTORABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", value)
    if isinstance(value, dict):
        return {escaped(key): escaped(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [escaped(item) for item in value]
    return value


def gettext_noop(message: str) -> str:
    """Marks ``message`` for the translation catalogue; it is translated where it is shown."""
    return message


class Message(str):
    """English text that keeps its template and parameters, so it can be said again in another language."""

    template: str
    params: dict

    def __new__(cls, template: str, **params):
        text = super().__new__(cls, template % params if params else template)
        text.template, text.params = template, params
        return text


def _has_control_characters(text: str) -> bool:
    return any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in text)


def validate_group_name(name: str) -> list[Message]:
    """Messages for a conversation-group name that Chat would refuse."""
    if not name or not name.strip():
        return [Message(gettext_noop("A group name cannot be empty."))]
    messages = []
    if name != name.strip():
        messages.append(Message(gettext_noop("A group name cannot start or end with spaces.")))
    if _has_control_characters(name):
        messages.append(Message(gettext_noop(
            "A group name cannot contain control characters such as tabs or line breaks.")))
    size = utf8_length(name)
    if size > GROUP_NAME_MAX_BYTES:
        messages.append(Message(gettext_noop(
            "This name is %(size)d bytes in UTF-8; a group name may have at most %(max)d bytes (%(length)d "
            "characters here: CJK characters take 3 bytes each, emoji 4)."),
            size=size, max=GROUP_NAME_MAX_BYTES, length=len(name)))
    return messages


def validate_user_id(user_id: str) -> list[Message]:
    """Messages for a Chat UserID that Chat would refuse."""
    if not user_id or not user_id.strip():
        return [Message(gettext_noop("A UserID cannot be empty."))]
    messages = []
    if user_id != user_id.strip():
        messages.append(Message(gettext_noop("A UserID cannot start or end with spaces.")))
    if _has_control_characters(user_id):
        messages.append(Message(gettext_noop("A UserID cannot contain control characters.")))
    size = utf8_length(user_id)
    if size > USER_ID_MAX_BYTES:
        messages.append(Message(gettext_noop(
            "This UserID is %(size)d bytes in UTF-8; a UserID may have at most %(max)d."),
            size=size, max=USER_ID_MAX_BYTES))
    return messages


def validate_nickname(nickname: str) -> list[Message]:
    """Messages for a nickname (a Nick sent on import) that Chat would refuse."""
    size = utf8_length(nickname)
    if size > PROFILE_VALUE_MAX_BYTES:
        return [Message(gettext_noop(
            "This nickname is %(size)d bytes in UTF-8; Chat keeps a nickname of at most %(max)d bytes (CJK "
            "characters take 3 bytes each, emoji 4)."), size=size, max=PROFILE_VALUE_MAX_BYTES)]
    return []


def validate_group_conversation_id(group_id: str) -> list[Message]:
    """Messages for the id of a Chat group conversation (a ToGroupId)."""
    if not group_id or not group_id.strip():
        return [Message(gettext_noop("A group conversation needs its Chat group id."))]
    messages = []
    if group_id != group_id.strip() or _has_control_characters(group_id):
        messages.append(Message(gettext_noop(
            "A Chat group id cannot contain spaces at its ends or control characters.")))
    size = utf8_length(group_id)
    if size > GROUP_CONVERSATION_ID_MAX_BYTES:
        messages.append(Message(gettext_noop(
            "This group id is %(size)d bytes; a Chat group id may have at most %(max)d."),
            size=size, max=GROUP_CONVERSATION_ID_MAX_BYTES))
    return messages


def looks_like_group_id(target: str) -> bool:
    """Whether ``target`` has the form of a group id Chat assigned: as a UserID, most likely a group id mistyped."""
    return target.startswith(GROUP_ID_ASSIGNED_PREFIX)


def validate_conversation(conversation_type: int, to_account: str, to_group_id: str) -> list[Message]:
    """Messages for one conversation: a type and exactly the matching target."""
    if conversation_type == TYPE_C2C:
        if to_group_id:
            return [Message(gettext_noop(
                "A one-to-one conversation names a user by UserID, not a Chat group id."))]
        if not to_account:
            return [Message(gettext_noop(
                "A one-to-one conversation needs the UserID of the other user."))]
        return validate_user_id(to_account)
    if conversation_type == TYPE_GROUP:
        if to_account:
            return [Message(gettext_noop(
                "A group conversation names a Chat group id, not a user."))]
        if not to_group_id:
            return [Message(gettext_noop("A group conversation needs its Chat group id."))]
        return validate_group_conversation_id(to_group_id)
    return [Message(gettext_noop("Unknown conversation type %(type)r: use 1 (one-to-one) or 2 (group)."),
                    type=conversation_type)]


def validate_group_count(count: int) -> list[Message]:
    """Messages when a user would own ``count`` conversation groups."""
    if count > GROUPS_PER_USER_MAX:
        return [Message(gettext_noop(
            "This user would have %(count)d conversation groups; Chat allows at most %(max)d per user."),
            count=count, max=GROUPS_PER_USER_MAX)]
    return []


def validate_grouped_conversation_count(count: int) -> list[Message]:
    """Messages when ``count`` distinct conversations of one user would be grouped."""
    if count > GROUPED_CONVERSATIONS_PER_USER_MAX:
        return [Message(gettext_noop(
            "This user would have %(count)d distinct conversations in groups; Chat allows at most %(max)d per "
            "user, counted across all of the user's groups."), count=count, max=GROUPED_CONVERSATIONS_PER_USER_MAX)]
    return []


def find_duplicates(conversations: Iterable[tuple[int, str]]) -> list[tuple[int, str]]:
    """The (type, target) pairs that appear more than once, in first-seen order."""
    seen: set[tuple[int, str]] = set()
    repeated: list[tuple[int, str]] = []
    for key in conversations:
        if key in seen and key not in repeated:
            repeated.append(key)
        seen.add(key)
    return repeated


def chunks(items: list, size: int = CONVERSATIONS_PER_REQUEST_MAX) -> Iterable[list]:
    """Split ``items`` into consecutive lists of at most ``size`` (one request each)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
