"""What the sandbox keeps for one user: groups, marks and the conversation list, and their state-file form."""

from dataclasses import dataclass, field

from contactgroups.chat.sandbox.parsing import ConversationKey, mark_text


@dataclass
class Group:
    group_id: int
    name: str
    members: dict[ConversationKey, None] = field(default_factory=dict)


@dataclass
class Contact:
    """Group and mark data of one conversation of one user."""

    standard_mark: int = 0
    custom_mark: str = ""
    timestamp: int = 0

    @property
    def marked(self) -> bool:
        return bool(self.standard_mark or self.custom_mark)


@dataclass
class User:
    next_group_id: int = 1
    groups: list[Group] = field(default_factory=list)
    # Every conversation that is grouped or marked, in the order it became so.
    contacts: dict[ConversationKey, Contact] = field(default_factory=dict)
    # How many of the user's groups hold each grouped conversation.
    grouped: dict[ConversationKey, int] = field(default_factory=dict)
    # The conversation list (get_list): conversations with messages -> MsgTime. Grouping or marking a
    # conversation does not put it here; only messages do (the sandbox's seed control call stands for them).
    sessions: dict[ConversationKey, int] = field(default_factory=dict)
    # The conversations of that list the user pinned (TopFlag 1): listed first, paged by TopStartIndex.
    pinned: set[ConversationKey] = field(default_factory=set)

    def group_named(self, name: str) -> Group | None:
        return next((group for group in self.groups if group.name == name), None)

    def group_ids_of(self, key: ConversationKey) -> list[int]:
        return [group.group_id for group in self.groups if key in group.members]

    def marks_and_groups(self, key: ConversationKey) -> dict:
        """StandardMark, CustomMark and ContactGroupId of a conversation, each only when it has a value.

        Chat leaves a field out when it has no value: the sample answers of get_contact_group
        (https://cloud.tencent.com/document/product/269/85794) and get_list
        (https://cloud.tencent.com/document/product/269/62118) show conversations without CustomMark, and
        some without any mark or group.
        """
        contact = self.contacts.get(key) or Contact()
        fields = {}
        if contact.standard_mark:
            fields["StandardMark"] = mark_text(contact.standard_mark)
        if contact.custom_mark:
            fields["CustomMark"] = contact.custom_mark
        group_ids = self.group_ids_of(key)
        if group_ids:
            fields["ContactGroupId"] = group_ids
        return fields

    def marked_count(self) -> int:
        return sum(1 for contact in self.contacts.values() if contact.marked)

    def touch(self, key: ConversationKey, now: int) -> Contact:
        contact = self.contacts.get(key)
        if contact is None:
            contact = self.contacts[key] = Contact()
        contact.timestamp = now
        return contact

    def forget_if_unused(self, key: ConversationKey) -> None:
        contact = self.contacts.get(key)
        if contact is not None and not self.grouped.get(key) and not contact.marked:
            del self.contacts[key]

    def add_member(self, group: Group, key: ConversationKey, now: int) -> None:
        group.members[key] = None
        self.grouped[key] = self.grouped.get(key, 0) + 1
        self.touch(key, now)

    def remove_member(self, group: Group, key: ConversationKey, now: int) -> None:
        del group.members[key]
        remaining = self.grouped[key] - 1
        if remaining:
            self.grouped[key] = remaining
        else:
            del self.grouped[key]
        self.contacts[key].timestamp = now
        self.forget_if_unused(key)

    def to_document(self) -> dict:
        """This user's part of the state file."""
        return {
            "next_group_id": self.next_group_id,
            "groups": [
                {"name": group.name, "group_id": group.group_id,
                 "members": [list(key) for key in group.members]}
                for group in self.groups
            ],
            "contacts": [
                {"type": key[0], "target": key[1], "standard_mark": contact.standard_mark,
                 "custom_mark": contact.custom_mark, "timestamp": contact.timestamp}
                for key, contact in self.contacts.items()
            ],
            "sessions": [{"type": key[0], "target": key[1], "msg_time": msg_time,
                          **({"pinned": True} if key in self.pinned else {})}
                         for key, msg_time in self.sessions.items()],
        }

    @classmethod
    def from_document(cls, data: dict) -> "User":
        """A user from its part of the state file (``to_document``)."""
        user = cls(next_group_id=data["next_group_id"])
        for entry in data["groups"]:
            group = Group(entry["group_id"], entry["name"])
            for kind, target in entry["members"]:
                key = (kind, target)
                group.members[key] = None
                user.grouped[key] = user.grouped.get(key, 0) + 1
            user.groups.append(group)
        for entry in data["contacts"]:
            user.contacts[(entry["type"], entry["target"])] = Contact(
                entry["standard_mark"], entry["custom_mark"], entry["timestamp"]
            )
        for entry in data["sessions"]:
            user.sessions[(entry["type"], entry["target"])] = entry["msg_time"]
            if entry.get("pinned"):
                user.pinned.add((entry["type"], entry["target"]))
        return user
