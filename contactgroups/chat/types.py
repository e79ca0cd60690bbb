"""The client's data about conversations and their groups, read from Chat's JSON.

A Conversation; what Chat answered about each conversation of a request (ItemResult); the answers to a create,
an update or a delete of a group; a user's groups and grouped conversations as get_contact_group and
search_contact_group report them (ContactGroups).
"""

from dataclasses import dataclass

from contactgroups.chat import errors, protocol
from contactgroups.chat.fields import as_int, contact_group_id, conversation_target, item_code


@dataclass(frozen=True, order=True)
class Conversation:
    """One conversation (Chat's ContactItem): a one-to-one chat with a user, or a group chat."""

    type: int
    target: str

    @classmethod
    def c2c(cls, user_id: str) -> "Conversation":
        return cls(protocol.TYPE_C2C, user_id)

    @classmethod
    def group(cls, group_id: str) -> "Conversation":
        return cls(protocol.TYPE_GROUP, group_id)

    @property
    def is_group(self) -> bool:
        return self.type == protocol.TYPE_GROUP

    def problems(self) -> list[str]:
        """Why Chat would refuse this conversation (empty when it is fine)."""
        if self.type == protocol.TYPE_GROUP:
            return protocol.validate_conversation(self.type, "", self.target)
        if self.type == protocol.TYPE_C2C:
            return protocol.validate_conversation(self.type, self.target, "")
        return protocol.validate_conversation(self.type, "", "")

    def to_json(self, group_key: str = protocol.TO_GROUP_ID) -> dict:
        """Chat's JSON for this conversation; ``group_key`` is the spelling of the group id the endpoint wants."""
        key = group_key if self.is_group else protocol.TO_ACCOUNT
        return {"Type": self.type, key: self.target}

    @classmethod
    def from_json(cls, data: dict) -> "Conversation":
        """A conversation from any of Chat's spellings: To_Account, ToGroupId, ToGroupid or GroupId."""
        conversation_type = int(data["Type"])
        if conversation_type == protocol.TYPE_C2C:
            target = data[protocol.TO_ACCOUNT]
        else:
            spellings = (protocol.TO_GROUP_ID, protocol.TO_GROUP_ID_DELETE, protocol.GROUP_ID_GET_LIST)
            target = next(data[key] for key in spellings if key in data)
        return cls(conversation_type, conversation_target(target))

    def __str__(self) -> str:
        return f"group {self.target}" if self.is_group else f"user {self.target}"


@dataclass(frozen=True)
class ItemResult:
    """What Chat answered about one conversation of a request (its ResultCode and ResultInfo)."""

    conversation: Conversation
    result_code: int
    result_info: str
    operation: int | None = None

    @property
    def ok(self) -> bool:
        return self.result_code == errors.OK

    @property
    def description(self) -> str:
        """The result code in words, with Chat's own text when it sent one."""
        text = errors.describe(self.result_code)
        return f"{text} (Chat said: {self.result_info})" if self.result_info and not self.ok else text

    @classmethod
    def from_json(cls, entry: dict, operation_key: str | None = None) -> "ItemResult":
        """A ResultItem of Chat's answer; ``operation_key`` names its operation field, if it has one."""
        return cls(
            conversation=Conversation.from_json(entry["ContactItem"]),
            result_code=item_code(entry["ResultCode"]),
            result_info=protocol.escaped(str(entry.get("ResultInfo", ""))),
            operation=as_int(entry.get(operation_key)) if operation_key else None,
        )


def _failures(results: list[ItemResult]) -> list[ItemResult]:
    return [result for result in results if not result.ok]


@dataclass(frozen=True)
class CreateGroupResult:
    group_name: str
    group_id: int
    results: list[ItemResult]

    @property
    def failures(self) -> list[ItemResult]:
        return _failures(self.results)


@dataclass(frozen=True)
class UpdateGroupResult:
    """The answer to a rename (``results`` empty) or to adding and removing conversations."""

    group_name: str
    group_id: int
    old_group_name: str
    results: list[ItemResult]

    @property
    def failures(self) -> list[ItemResult]:
        return _failures(self.results)

    @classmethod
    def from_answer(cls, answer: dict, name: str, old_name: str) -> "UpdateGroupResult":
        """update_contact_group's answer; ``name`` and ``old_name`` stand in for names it leaves out."""
        result = answer["UpdateGroupResult"]
        return cls(
            group_name=str(result.get("GroupName", name)),
            group_id=contact_group_id(result["GroupId"]),
            old_group_name=str(result.get("OldGroupName", old_name)),
            results=[ItemResult.from_json(entry, "ContactOptType") for entry in result.get("ContactResultItem") or []],
        )


@dataclass(frozen=True)
class DeleteGroupResult:
    """The group Chat deleted. ``group_id`` is None if Chat's answer did not name it."""

    group_name: str
    group_id: int | None


@dataclass(frozen=True)
class GroupInfo:
    """A conversation group of a user: its name and the GroupId Chat assigned."""

    name: str
    group_id: int


@dataclass(frozen=True)
class ConversationState:
    """A conversation's groups and marks, as get_contact_group and search_contact_group report them."""

    conversation: Conversation
    group_ids: tuple[int, ...]
    standard_mark: str = ""
    custom_mark: str = ""
    timestamp: int = 0


@dataclass(frozen=True)
class ContactGroups:
    """A user's conversation groups and the conversations in them (all pages of get_contact_group)."""

    groups: list[GroupInfo]
    conversations: list[ConversationState]

    def members(self, group_id: int) -> list[Conversation]:
        """The conversations in the group with ``group_id``."""
        return [state.conversation for state in self.conversations if group_id in state.group_ids]

    def group_named(self, name: str) -> GroupInfo | None:
        return next((group for group in self.groups if group.name == name), None)

    def group_with_id(self, group_id: int) -> GroupInfo | None:
        return next((group for group in self.groups if group.group_id == group_id), None)

    @classmethod
    def from_answer(cls, answer: dict) -> "ContactGroups":
        """get_contact_group's ContactItem / search_contact_group's ContactResultItem, and GroupItem."""
        entries = answer.get("ContactItem") or answer.get("ContactResultItem") or []
        conversations = []
        for entry in entries:
            item = entry["ContactItem"] if isinstance(entry.get("ContactItem"), dict) else entry
            conversations.append(
                ConversationState(
                    conversation=Conversation.from_json(item),
                    group_ids=tuple(contact_group_id(group_id) for group_id in entry.get("ContactGroupId") or ()),
                    standard_mark=str(entry.get("StandardMark", "")),
                    custom_mark=str(entry.get("CustomMark", "")),
                    timestamp=as_int(entry.get("Timestamp"), 0),
                )
            )
        groups = [GroupInfo(str(group["GroupName"]), contact_group_id(group["GroupId"]))
                  for group in answer.get("GroupItem") or []]
        return cls(groups=groups, conversations=conversations)
