"""What each recentcontact endpoint does to Chat's data for one app: ChatState, without HTTP or threads."""

import time

from contactgroups.chat import errors, protocol
from contactgroups.chat.sandbox.accounts import Accounts
from contactgroups.chat.sandbox.parsing import (
    ConversationKey,
    Refusal,
    conversation_fields,
    error_body,
    is_int,
    item_result,
    ok_body,
    read_array,
    read_conversation,
    read_group_name,
    read_text,
)
from contactgroups.chat.sandbox.users import Contact, Group, User

# Chat does not document its page size for get_contact_group and get_list; a small one makes callers page.
DEFAULT_PAGE_SIZE = 50
STATE_FORMAT = 1


class ChatState:
    """Chat's data for one app and the behaviour of each endpoint, without HTTP or threads.

    ``dispatch`` takes a parsed request body and gives the response body. Callers serialise access.
    """

    def __init__(self, admin_identifier: str, page_size: int = DEFAULT_PAGE_SIZE):
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.admin_identifier = admin_identifier
        self.page_size = page_size
        self.accounts = Accounts(admin_identifier)
        self.users: dict[str, User] = {}
        self._handlers = {
            protocol.CREATE_CONTACT_GROUP: self.create_contact_group,
            protocol.UPDATE_CONTACT_GROUP: self.update_contact_group,
            protocol.DEL_CONTACT_GROUP: self.del_contact_group,
            protocol.GET_CONTACT_GROUP: self.get_contact_group,
            protocol.SEARCH_CONTACT_GROUP: self.search_contact_group,
            protocol.MARK_CONTACT: self.mark_contact,
            protocol.GET_LIST: self.get_list,
            protocol.DELETE_CONVERSATION: self.delete,
            protocol.ACCOUNT_IMPORT: self.accounts.account_import,
            protocol.MULTIACCOUNT_IMPORT: self.accounts.multiaccount_import,
            protocol.ACCOUNT_CHECK: self.accounts.account_check,
        }

    def dispatch(self, endpoint: str, body: dict, now: int | None = None) -> tuple[dict, bool]:
        """The response body for ``body`` sent to ``endpoint``, and whether the state may have changed."""
        handler = self._handlers[endpoint]
        try:
            fields = handler(body, int(time.time()) if now is None else now)
        except Refusal as refusal:
            return error_body(endpoint, refusal.code, refusal.info), False
        return ok_body(endpoint, fields), endpoint not in protocol.READ_ENDPOINTS

    def is_imported(self, user_id: str) -> bool:
        return self.accounts.is_imported(user_id)

    def _owner(self, body: dict) -> tuple[str, User]:
        """The From_Account and its state (a blank one, not stored, if it has none yet)."""
        owner = read_text(body.get("From_Account"), "From_Account")
        if not self.is_imported(owner):
            raise Refusal(errors.ACCOUNT_NOT_IMPORTED, f"From_Account {owner} is not imported")
        return owner, self.users.get(owner) or User()

    def _item_refusal(self, key: ConversationKey) -> Refusal | None:
        kind, target = key
        if kind == protocol.TYPE_C2C and not self.is_imported(target):
            return Refusal(errors.ACCOUNT_NOT_IMPORTED, f"To_Account {target} is not imported")
        return None

    def _checked(self, item) -> tuple[ConversationKey | None, dict | None]:
        """The conversation ``item`` names, or the per-item refusal to answer instead."""
        try:
            key = read_conversation(item)
        except Refusal as refusal:
            return None, item_result(refusal.code, refusal.info)
        refusal = self._item_refusal(key)
        if refusal:
            return None, item_result(refusal.code, refusal.info)
        return key, None

    def _add(self, user: User, group: Group, item, now: int) -> dict:
        key, refused = self._checked(item)
        if refused:
            return refused
        if key in group.members:
            return item_result()
        if key not in user.grouped and len(user.grouped) >= protocol.GROUPED_CONVERSATIONS_PER_USER_MAX:
            return item_result(
                errors.TOO_MANY_GROUPED,
                f"the user already has {len(user.grouped)} grouped conversations; at most "
                f"{protocol.GROUPED_CONVERSATIONS_PER_USER_MAX} are allowed",
            )
        user.add_member(group, key, now)
        return item_result()

    def _remove(self, user: User, group: Group, item, now: int) -> dict:
        key, refused = self._checked(item)
        if refused:
            return refused
        if key in group.members:
            user.remove_member(group, key, now)
        return item_result()

    def _group_items(self, groups) -> list[dict]:
        return [{"GroupName": group.name, "GroupId": group.group_id} for group in groups]

    def _contact_fields(self, user: User, key: ConversationKey) -> dict:
        contact = user.contacts.get(key) or Contact()
        fields = conversation_fields(key)
        fields.update(user.marks_and_groups(key))
        fields["Timestamp"] = contact.timestamp
        return fields

    def create_contact_group(self, body: dict, now: int) -> dict:
        owner, user = self._owner(body)
        entries = read_array(body.get("GroupContactItem"), "GroupContactItem", protocol.GROUPS_PER_CREATE_MAX,
                             errors.INVALID_PARAMETER)
        if not entries or not isinstance(entries[0], dict):
            raise Refusal(errors.INVALID_PARAMETER, "GroupContactItem must hold one group object")
        entry = entries[0]
        name = read_group_name(entry.get("GroupName"), "GroupName")
        items = read_array(entry.get("ContactItem"), "ContactItem", protocol.CONVERSATIONS_PER_REQUEST_MAX,
                           errors.TOO_MANY_IN_REQUEST, required=False)
        if user.group_named(name):
            raise Refusal(errors.GROUP_NAME_TAKEN, f"the user already has a group named {name}")
        if len(user.groups) >= protocol.GROUPS_PER_USER_MAX:
            raise Refusal(
                errors.TOO_MANY_GROUPS,
                f"the user already has {len(user.groups)} groups; at most {protocol.GROUPS_PER_USER_MAX} are allowed",
            )
        self.users[owner] = user
        group = Group(user.next_group_id, name)
        user.next_group_id += 1
        user.groups.append(group)
        results = [{"ContactItem": item, **self._add(user, group, item, now)} for item in items]
        return {"GroupResultItem": [{"GroupItem": self._group_items([group])[0], "ResultItem": results}]}

    def update_contact_group(self, body: dict, now: int) -> dict:
        owner, user = self._owner(body)
        update_type = body.get("UpdateType")
        if update_type != protocol.UPDATE_BY_GROUP or not is_int(update_type):
            raise Refusal(errors.INVALID_PARAMETER, f"UpdateType must be {protocol.UPDATE_BY_GROUP}")
        update = body.get("UpdateGroup")
        if not isinstance(update, dict):
            raise Refusal(errors.INVALID_PARAMETER, "UpdateGroup must be an object")
        kind = update.get("UpdateGroupType")
        if kind not in (protocol.RENAME_GROUP, protocol.CHANGE_MEMBERS) or not is_int(kind):
            raise Refusal(
                errors.INVALID_PARAMETER,
                f"UpdateGroupType must be {protocol.RENAME_GROUP} (rename) or {protocol.CHANGE_MEMBERS} "
                "(conversations)",
            )
        old_name = read_text(update.get("OldGroupName"), "OldGroupName")
        if kind == protocol.RENAME_GROUP:
            new_name = read_group_name(update.get("NewGroupName"), "NewGroupName")
            group = self._existing_group(user, old_name)
            if new_name != old_name and user.group_named(new_name):
                raise Refusal(errors.GROUP_NAME_TAKEN, f"the user already has a group named {new_name}")
            group.name = new_name
            result = {"UpdateGroupType": kind, "GroupName": group.name, "GroupId": group.group_id,
                      "OldGroupName": old_name}
            return {"UpdateType": update_type, "UpdateGroupResult": result}
        items = read_array(update.get("ContactUpdateItem"), "ContactUpdateItem", protocol.CONVERSATIONS_PER_REQUEST_MAX,
                           errors.TOO_MANY_IN_REQUEST, required=False)
        group = self._existing_group(user, old_name)
        results = [self._update_item(user, group, item, now) for item in items]
        result = {"UpdateGroupType": kind, "GroupName": group.name, "GroupId": group.group_id,
                  "OldGroupName": old_name, "ContactResultItem": results}
        return {"UpdateType": update_type, "UpdateGroupResult": result}

    def _existing_group(self, user: User, name: str) -> Group:
        group = user.group_named(name)
        if group is None:
            raise Refusal(errors.GROUP_NOT_FOUND, f"the user has no group named {name}")
        return group

    def _update_item(self, user: User, group: Group, entry, now: int) -> dict:
        if not isinstance(entry, dict):
            return {"ContactOptType": None, "ContactItem": None,
                    **item_result(errors.INVALID_PARAMETER, "ContactUpdateItem entries must be objects")}
        opt = entry.get("ContactOptType")
        item = entry.get("ContactItem")
        answer = {"ContactOptType": opt, "ContactItem": item}
        if opt == protocol.OPERATION_ADD and is_int(opt):
            answer.update(self._add(user, group, item, now))
        elif opt == protocol.OPERATION_REMOVE and is_int(opt):
            answer.update(self._remove(user, group, item, now))
        else:
            answer.update(item_result(
                errors.INVALID_PARAMETER,
                f"ContactOptType must be {protocol.OPERATION_ADD} (add) or {protocol.OPERATION_REMOVE} (remove)",
            ))
        return answer

    def del_contact_group(self, body: dict, now: int) -> dict:
        owner, user = self._owner(body)
        names = read_array(body.get("GroupName"), "GroupName", protocol.GROUPS_PER_DELETE_MAX, errors.INVALID_PARAMETER)
        if not names:
            raise Refusal(errors.INVALID_PARAMETER, "GroupName must hold one group name")
        group = self._existing_group(user, read_text(names[0], "GroupName"))
        for key in list(group.members):
            user.remove_member(group, key, now)
        user.groups.remove(group)
        return {"GroupItem": self._group_items([group])}

    def get_contact_group(self, body: dict, now: int) -> dict:
        owner, user = self._owner(body)
        start = body.get("StartIndex")
        if not is_int(start) or start < 0:
            raise Refusal(errors.INVALID_PARAMETER, "StartIndex must be an integer, 0 or more")
        keys = list(user.contacts)
        page = keys[start : start + self.page_size]
        following = start + len(page)
        return {
            "ContactItem": [self._contact_fields(user, key) for key in page],
            "GroupItem": self._group_items(user.groups),
            "CompleteFlag": 1 if following >= len(keys) else 0,
            "NextStartIndex": following if following < len(keys) else protocol.LAST_PAGE_NEXT_START_INDEX,
        }

    def search_contact_group(self, body: dict, now: int) -> dict:
        owner, user = self._owner(body)
        items = read_array(body.get("ContactItem"), "ContactItem", protocol.CONVERSATIONS_PER_SEARCH_MAX,
                           errors.TOO_MANY_IN_REQUEST)
        keys = [read_conversation(item) for item in items]
        found = [self._contact_fields(user, key) for key in keys]
        ids = {group_id for fields in found for group_id in fields.get("ContactGroupId", ())}
        return {
            "ContactResultItem": found,
            "GroupItem": self._group_items(group for group in user.groups if group.group_id in ids),
        }

    def mark_contact(self, body: dict, now: int) -> dict:
        owner, user = self._owner(body)
        entries = read_array(body.get("MarkItem"), "MarkItem", protocol.MARK_ITEMS_PER_REQUEST_MAX,
                             errors.TOO_MANY_IN_REQUEST)
        if not entries:
            raise Refusal(errors.TOO_MANY_IN_REQUEST, "MarkItem must hold at least one conversation")
        self.users[owner] = user
        results = []
        for entry in entries:
            if not isinstance(entry, dict):
                results.append({"OptType": None, "ContactItem": None,
                                **item_result(errors.INVALID_PARAMETER, "MarkItem entries must be objects")})
                continue
            answer = {"OptType": entry.get("OptType"), "ContactItem": entry.get("ContactItem")}
            try:
                self._mark(user, entry, now)
            except Refusal as refusal:
                answer.update(item_result(refusal.code, refusal.info))
            else:
                answer.update(item_result())
            results.append(answer)
        return {"ResultItem": results}

    def _mark(self, user: User, entry: dict, now: int) -> None:
        opt = entry.get("OptType")
        if opt not in (protocol.MARK_STANDARD, protocol.MARK_CUSTOM, protocol.MARK_BOTH) or not is_int(opt):
            raise Refusal(
                errors.INVALID_PARAMETER,
                f"OptType must be {protocol.MARK_STANDARD} (standard), {protocol.MARK_CUSTOM} (custom) or "
                f"{protocol.MARK_BOTH} (both)",
            )
        key = read_conversation(entry.get("ContactItem"))
        refusal = self._item_refusal(key)
        if refusal:
            raise refusal
        current = user.contacts.get(key) or Contact()
        standard, custom = current.standard_mark, current.custom_mark
        if opt in (protocol.MARK_STANDARD, protocol.MARK_BOTH):
            for bit in self._mark_bits(entry.get("SetMark"), "SetMark"):
                standard |= 1 << bit
            for bit in self._mark_bits(entry.get("ClearMark"), "ClearMark"):
                standard &= ~(1 << bit)
        if opt in (protocol.MARK_CUSTOM, protocol.MARK_BOTH):
            custom = entry.get("CustomMark") or ""
            if not isinstance(custom, str):
                raise Refusal(errors.INVALID_PARAMETER, "CustomMark must be a string")
            if protocol.utf8_length(custom) > protocol.CUSTOM_MARK_MAX_BYTES:
                raise Refusal(errors.INVALID_PARAMETER,
                              f"CustomMark has more than {protocol.CUSTOM_MARK_MAX_BYTES} bytes")
        if not (standard or custom) and key not in user.contacts:
            return
        if (standard or custom) and not current.marked:
            if user.marked_count() >= protocol.MARKED_CONVERSATIONS_PER_USER_MAX:
                raise Refusal(errors.TOO_MANY_GROUPED,
                              f"at most {protocol.MARKED_CONVERSATIONS_PER_USER_MAX} conversations can be marked")
        contact = user.touch(key, now)
        contact.standard_mark, contact.custom_mark = standard, custom
        user.forget_if_unused(key)

    @staticmethod
    def _mark_bits(value, name: str) -> list[int]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(
            is_int(bit) and 0 <= bit < protocol.STANDARD_MARK_BITS for bit in value
        ):
            raise Refusal(errors.INVALID_PARAMETER,
                          f"{name} must list bit numbers from 0 to {protocol.STANDARD_MARK_BITS - 1}")
        return value

    def get_list(self, body: dict, now: int) -> dict:
        owner, user = self._owner(body)
        paging = {}
        for name in ("TimeStamp", "StartIndex", "TopTimeStamp", "TopStartIndex", "AssistFlags"):
            value = body.get(name)
            if not is_int(value) or value < 0:
                raise Refusal(errors.INVALID_PARAMETER, f"{name} must be an integer, 0 or more")
            paging[name] = value
        newest_first = sorted(user.sessions.items(), key=lambda pair: -pair[1])
        pinned = [pair for pair in newest_first if pair[0] in user.pinned]
        others = [pair for pair in newest_first if pair[0] not in user.pinned]
        # Pinned conversations first, from TopStartIndex; the page's rest from the others, from StartIndex.
        top_start, start = paging["TopStartIndex"], paging["StartIndex"]
        top_page = pinned[top_start : top_start + self.page_size]
        page = others[start : start + self.page_size - len(top_page)]
        items = []
        for (key, msg_time), top_flag in [*((pair, 1) for pair in top_page), *((pair, 0) for pair in page)]:
            fields = conversation_fields(key, protocol.GROUP_ID_GET_LIST)
            fields.update(MsgTime=msg_time, TopFlag=top_flag, **user.marks_and_groups(key))
            items.append(fields)
        top_following, following = top_start + len(top_page), start + len(page)
        return {
            "CompleteFlag": (protocol.GET_LIST_COMPLETE
                             if top_following >= len(pinned) and following >= len(others) else 0),
            "TimeStamp": paging["TimeStamp"],
            "StartIndex": following,
            "TopTimeStamp": paging["TopTimeStamp"],
            "TopStartIndex": top_following,
            "SessionItem": items,
        }

    def delete(self, body: dict, now: int) -> dict:
        owner, user = self._owner(body)
        if (body.get("Type") == protocol.TYPE_GROUP and protocol.TO_GROUP_ID in body
                and protocol.TO_GROUP_ID_DELETE not in body):
            raise Refusal(errors.INVALID_PARAMETER, "recentcontact/delete spells the group field ToGroupid")
        key = read_conversation(body, group_field=protocol.TO_GROUP_ID_DELETE)
        clear = body.get("ClearRamble", 0)
        if clear not in (0, 1) or not is_int(clear):
            raise Refusal(errors.INVALID_PARAMETER, "ClearRamble must be 0 or 1")
        if owner in self.users:
            self.users[owner].sessions.pop(key, None)
            self.users[owner].pinned.discard(key)
        return {}

    def seed_conversations(self, owner, items) -> int:
        """List ``items`` (get_list SessionItem entries) in ``owner``'s conversation list; see Sandbox."""
        if not isinstance(owner, str) or not owner:
            raise ValueError("From_Account must be a non-empty string")
        if not isinstance(items, list):
            raise ValueError("SessionItem must be an array of conversations")
        seeded = {}
        for position, item in enumerate(items):
            try:
                key = read_conversation(item, group_field=protocol.GROUP_ID_GET_LIST)
            except Refusal as refusal:
                raise ValueError(f"SessionItem[{position}]: {refusal.info}") from None
            msg_time = item.get("MsgTime")
            if not is_int(msg_time) or msg_time < 0:
                raise ValueError(f"SessionItem[{position}]: MsgTime must be an integer time, 0 or more")
            top_flag = item.get("TopFlag", 0)
            if top_flag not in (0, 1) or not is_int(top_flag):
                raise ValueError(f"SessionItem[{position}]: TopFlag must be 0 or 1 (1: pinned)")
            seeded[key] = (msg_time, top_flag == 1)
        user = self.users.setdefault(owner, User())
        for key, (msg_time, pinned) in seeded.items():
            user.sessions[key] = msg_time
            if pinned:
                user.pinned.add(key)
            else:
                user.pinned.discard(key)
        return len(seeded)

    def snapshot(self) -> dict:
        """The whole state as a JSON-ready document (the state file's content)."""
        return {"format": STATE_FORMAT, "accounts": self.accounts.to_document(),
                "users": {user_id: user.to_document() for user_id, user in self.users.items()}}

    def load(self, document: dict) -> None:
        """Replace the state with a document made by ``snapshot``."""
        if document.get("format") != STATE_FORMAT:
            raise ValueError(f"unknown sandbox state format {document.get('format')!r}")
        self.accounts.load(document.get("accounts", {}))
        self.users = {user_id: User.from_document(data) for user_id, data in document.get("users", {}).items()}

    def clear(self) -> None:
        self.accounts.clear()
        self.users = {}
