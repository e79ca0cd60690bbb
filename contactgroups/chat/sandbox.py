"""A faithful local Tencent Cloud Chat REST server, for development, demos and tests.

The sandbox answers ``POST /v4/<service>/<command>?sdkappid=..&identifier=..&usersig=..&random=..&contenttype=json``
for the endpoints this project uses, with Chat's JSON shapes and error codes:

- ``recentcontact/``: ``create_contact_group``, ``update_contact_group``, ``del_contact_group``,
  ``get_contact_group`` (paged by ``StartIndex``/``NextStartIndex``/``CompleteFlag``, ``page_size``
  conversations a page), ``search_contact_group``, ``mark_contact``, ``get_list``, ``delete``;
- ``im_open_login_svc/``: ``account_import``, ``multiaccount_import``, ``account_check``.

Like Chat, it checks the SDKAppID (60012 missing, 60006 wrong), the UserSig (70001 expired, 70003 not valid),
that the identifier is the app administrator (60010), the JSON body (60002) and the path (60009); it needs
accounts imported (50001), enforces every limit in ``contactgroups.chat.protocol`` with its documented code, assigns
integer ``GroupId``s per user (1, 2, 3, ... never reused) and answers business errors with HTTP 200 and an error
body. Where Chat documents no behaviour the sandbox picks a plain one and says so:

- a duplicate group name on create or rename is ``errors.GROUP_NAME_TAKEN`` (50002);
- a group conversation (``ToGroupId``) needs no import; a one-to-one ``To_Account`` must be imported, for adds
  and removes alike; the administrator account always counts as imported;
- removing a conversation that is not in the group succeeds; so does adding one that already is;
- a ContactItem naming both ``To_Account`` and ``ToGroupId``, or the one its ``Type`` does not use, is a
  per-item 50002;
- ``get_list`` lists the recent-contact sessions the sandbox knows: a conversation joins a user's list when
  it is first grouped or marked, and ``recentcontact/delete`` (which spells the group ``ToGroupid``) removes
  it from the list only, leaving groups and marks alone, as Chat stores them separately;
- a standard mark is shown as binary digits, most significant first (``SetMark: [1]`` gives ``"10"``);
  ``SetMark`` is applied before ``ClearMark``.

State: imported accounts (with nick and face URL) and, per user, the groups with name, ``GroupId`` and members,
marks and sessions. With a state file it survives restarts: the file is written atomically (temporary file,
then rename) by a background thread at most every ``FLUSH_INTERVAL_SECONDS`` and on a clean stop, so a crash
can lose the changes of the last half-second. Without a state file the state lives in memory only.

Control endpoints (no UserSig; the sandbox listens on loopback by default):

- ``GET /__sandbox__/health``: ``{"status": "ok", "sdkappid": .., "admin_identifier": ..}``.
- ``GET /__sandbox__/state``: the whole state as JSON (the same document as the state file).
- ``POST /__sandbox__/reset``: forget every account, group, mark and session, and the call log. Faults stay.
- ``GET /__sandbox__/faults``: the fault settings, plus ``faults_left`` and ``faults_injected``.
- ``POST /__sandbox__/faults``: change the fields given, keep the others; answers the new settings, or HTTP 400
  naming a bad field. Fields:

  - ``latency_ms`` (number): delay every answer this long, outside the state lock;
  - ``fail_rate`` (0..1): answer one of ``fail_codes`` (default ``[50004]``) instead of doing the call;
  - ``fail_codes`` (list of int): the codes ``fail_rate`` picks from at random;
  - ``timeout_rate`` (0..1): hold the request ``timeout_seconds`` (default 30), longer than a client's read
    timeout, then answer 60008 without doing the call (or, when ``ambiguous``, do it and then answer);
  - ``timeout_seconds`` (number): how long a timed-out request is held;
  - ``drop_rate`` (0..1): close the connection without an answer;
  - ``http_error_rate`` (0..1): answer HTTP 502 with an HTML body, as a gateway does;
  - ``ambiguous`` (bool): drops, timeouts and HTTP errors happen *after* the call was applied, the case of a
    request that reached Chat whose answer was lost. Injected error codes never apply the call;
  - ``endpoints`` (list of ``"service/command"``): faults and latency touch only these (empty: all);
  - ``max_faults`` (int or null): inject at most this many faults from now on, then none (null: no cap);
  - ``rate_limit`` (int): calls a second allowed per endpoint (sliding one-second window, per SDKAppID and
    endpoint); beyond it the answer is 60007. 0 turns it off;
  - ``seed`` (int): reseed the random draws, for repeatable runs.

  The four rates are exclusive chances of one draw per call and may add up to at most 1. Every fault is decided
  before the call is applied, so without ``ambiguous`` a faulted call changes nothing.
- ``DELETE /__sandbox__/faults``: turn every fault, the latency and the rate limit off.
- ``GET /__sandbox__/calls[?endpoint=..&actor=..&since=..]``: the calls received, oldest first, each
  ``{"seq", "time", "endpoint", "actor", "identifier", "body", "outcome", "injected", "applied", "http_status",
  "error_code", "response"}``. ``outcome`` is ``ok`` (ErrorCode 0), ``error`` (an error body, injected or
  not), ``dropped``, ``timed_out`` or ``http_error``; ``applied`` is true when the call reached Chat's logic (its
  answer, success or refusal, is the real one; with ``ambiguous`` the answer may then be lost) and false when
  it was stopped before (path, UserSig, JSON, rate limit, or an injected fault). The UserSig is never
  recorded. ``DELETE /__sandbox__/calls`` empties the log.

A call sent with the header ``X-Sandbox-Actor: app`` (as ``SandboxServer.post`` does) stands for the end user's
own app changing Chat, which does not go through the REST API: it is logged with ``actor: "app"`` and is exempt
from injected faults, latency and the rate limit. Every other call is logged with ``actor: "client"``.
"""

import http
import http.server
import json
import os
import random
import socket
import socketserver
import sys
import threading
import time
import traceback
import urllib.parse
import urllib.request
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from contactgroups.chat import errors, protocol
from contactgroups.chat.usersig import UserSigError, generate_usersig, verify_usersig

# Chat does not document its page size for get_contact_group and get_list; a small one makes callers page.
DEFAULT_PAGE_SIZE = 50
DEFAULT_TIMEOUT_SECONDS = 30.0
FLUSH_INTERVAL_SECONDS = 0.5
CALL_LOG_MAX = 10_000
# An idle keep-alive connection is closed after this long, so its thread ends.
IDLE_CONNECTION_SECONDS = 120
# Distinct verified UserSigs remembered, so the HMAC and zlib work is done once per UserSig.
USERSIG_CACHE_MAX = 1024
STATE_FORMAT = 1

API_PREFIX = "/v4/"
CONTROL_PREFIX = "/__sandbox__/"
ACTOR_HEADER = "X-Sandbox-Actor"
ACTOR_CLIENT = "client"
ACTOR_APP = "app"

# Enumerations of the recentcontact API.
UPDATE_TYPE_BY_GROUP = 1
UPDATE_GROUP_RENAME = 1
UPDATE_GROUP_MEMBERS = 2
CONTACT_OPT_ADD = 1
CONTACT_OPT_REMOVE = 2
MARK_OPT_STANDARD = 1
MARK_OPT_CUSTOM = 2
MARK_OPT_BOTH = 3

ENDPOINTS = {
    "recentcontact/create_contact_group": "create_contact_group",
    "recentcontact/update_contact_group": "update_contact_group",
    "recentcontact/del_contact_group": "del_contact_group",
    "recentcontact/get_contact_group": "get_contact_group",
    "recentcontact/search_contact_group": "search_contact_group",
    "recentcontact/mark_contact": "mark_contact",
    "recentcontact/get_list": "get_list",
    "recentcontact/delete": "delete",
    "im_open_login_svc/account_import": "account_import",
    "im_open_login_svc/multiaccount_import": "multiaccount_import",
    "im_open_login_svc/account_check": "account_check",
}
READ_ONLY_ENDPOINTS = frozenset(
    {
        "recentcontact/get_contact_group",
        "recentcontact/search_contact_group",
        "recentcontact/get_list",
        "im_open_login_svc/account_check",
    }
)
# Endpoints whose documented answers carry ErrorDisplay next to ErrorInfo.
WITH_ERROR_DISPLAY = frozenset({"recentcontact/create_contact_group", "recentcontact/delete"})

FAULT_DROP = "drop"
FAULT_TIMEOUT = "timeout"
FAULT_HTTP_ERROR = "http_error"
FAULT_FAIL = "fail"

Conversation = tuple[int, str]


class _Refusal(Exception):
    """A request (or one item of it) that Chat refuses with ``code``."""

    def __init__(self, code: int, info: str):
        super().__init__(info)
        self.code = code
        self.info = info


def _result(code: int = errors.OK, info: str = "") -> dict:
    return {"ResultCode": code, "ResultInfo": info}


def _error_body(endpoint: str, code: int, info: str) -> dict:
    body = {"ActionStatus": "FAIL", "ErrorCode": code, "ErrorInfo": info}
    if endpoint in WITH_ERROR_DISPLAY:
        body["ErrorDisplay"] = ""
    return body


def _ok_body(endpoint: str, fields: dict) -> dict:
    body = dict(fields)
    body.update(ActionStatus="OK", ErrorCode=errors.OK, ErrorInfo="")
    if endpoint in WITH_ERROR_DISPLAY:
        body["ErrorDisplay"] = ""
    return body


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value, name: str) -> str:
    """A required non-empty string field, or a 50002 refusal."""
    if not isinstance(value, str) or not value:
        raise _Refusal(errors.INVALID_PARAMETER, f"{name} must be a non-empty string")
    return value


def _items(value, name: str, most: int, too_many_code: int, required: bool = True) -> list:
    """A list field of at most ``most`` entries."""
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise _Refusal(errors.INVALID_PARAMETER, f"{name} must be an array")
    if len(value) > most:
        raise _Refusal(too_many_code, f"{name} holds {len(value)} entries; at most {most} are allowed")
    return value


def _group_name(value, name: str) -> str:
    text = _text(value, name)
    size = protocol.utf8_length(text)
    if size > protocol.GROUP_NAME_MAX_BYTES:
        raise _Refusal(
            errors.GROUP_NAME_TOO_LONG,
            f"{name} is {size} bytes; a group name has at most {protocol.GROUP_NAME_MAX_BYTES} bytes",
        )
    return text


def _conversation(item, group_field: str = "ToGroupId") -> Conversation:
    """The (Type, target) of a ContactItem, or a 50002 refusal saying what is wrong with it."""
    if not isinstance(item, dict):
        raise _Refusal(errors.INVALID_PARAMETER, "ContactItem must be an object")
    kind = item.get("Type")
    to_account = item.get("To_Account")
    to_group = item.get(group_field)
    if kind == protocol.TYPE_C2C and _is_int(kind):
        if to_group is not None:
            raise _Refusal(errors.INVALID_PARAMETER, f"a one-to-one conversation takes To_Account, not {group_field}")
        return kind, _text(to_account, "To_Account")
    if kind == protocol.TYPE_GROUP and _is_int(kind):
        if to_account is not None:
            raise _Refusal(errors.INVALID_PARAMETER, f"a group conversation takes {group_field}, not To_Account")
        return kind, _text(to_group, group_field)
    raise _Refusal(errors.INVALID_PARAMETER, f"Type must be {protocol.TYPE_C2C} or {protocol.TYPE_GROUP}")


def _conversation_fields(key: Conversation, group_field: str = "ToGroupId") -> dict:
    kind, target = key
    return {"Type": kind, ("To_Account" if kind == protocol.TYPE_C2C else group_field): target}


def _mark_text(mark: int) -> str:
    return format(mark, "b") if mark else ""


@dataclass
class _Group:
    group_id: int
    name: str
    members: dict[Conversation, None] = field(default_factory=dict)


@dataclass
class _Contact:
    """Group and mark data of one conversation of one user."""

    standard_mark: int = 0
    custom_mark: str = ""
    timestamp: int = 0

    @property
    def marked(self) -> bool:
        return bool(self.standard_mark or self.custom_mark)


@dataclass
class _User:
    next_group_id: int = 1
    groups: list[_Group] = field(default_factory=list)
    # Every conversation that is grouped or marked, in the order it became so.
    contacts: dict[Conversation, _Contact] = field(default_factory=dict)
    # How many of the user's groups hold each grouped conversation.
    grouped: dict[Conversation, int] = field(default_factory=dict)
    # The recent-contact list: conversation -> MsgTime.
    sessions: dict[Conversation, int] = field(default_factory=dict)

    def group_named(self, name: str) -> _Group | None:
        return next((group for group in self.groups if group.name == name), None)

    def group_ids_of(self, key: Conversation) -> list[int]:
        return [group.group_id for group in self.groups if key in group.members]

    def marked_count(self) -> int:
        return sum(1 for contact in self.contacts.values() if contact.marked)

    def touch(self, key: Conversation, now: int) -> _Contact:
        contact = self.contacts.get(key)
        if contact is None:
            contact = self.contacts[key] = _Contact()
        contact.timestamp = now
        self.sessions.setdefault(key, now)
        return contact

    def forget_if_unused(self, key: Conversation) -> None:
        contact = self.contacts.get(key)
        if contact is not None and not self.grouped.get(key) and not contact.marked:
            del self.contacts[key]

    def add_member(self, group: _Group, key: Conversation, now: int) -> None:
        group.members[key] = None
        self.grouped[key] = self.grouped.get(key, 0) + 1
        self.touch(key, now)

    def remove_member(self, group: _Group, key: Conversation, now: int) -> None:
        del group.members[key]
        remaining = self.grouped[key] - 1
        if remaining:
            self.grouped[key] = remaining
        else:
            del self.grouped[key]
        self.contacts[key].timestamp = now
        self.forget_if_unused(key)


class ChatState:
    """Chat's data for one app and the behaviour of each endpoint, without HTTP or threads.

    ``dispatch`` takes a parsed request body and gives the response body. Callers serialise access.
    """

    def __init__(self, admin_identifier: str, page_size: int = DEFAULT_PAGE_SIZE):
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.admin_identifier = admin_identifier
        self.page_size = page_size
        self.accounts: dict[str, dict] = {}
        self.users: dict[str, _User] = {}

    def dispatch(self, endpoint: str, body: dict, now: int | None = None) -> tuple[dict, bool]:
        """The response body for ``body`` sent to ``endpoint``, and whether the state may have changed."""
        handler = getattr(self, ENDPOINTS[endpoint])
        try:
            fields = handler(body, int(time.time()) if now is None else now)
        except _Refusal as refusal:
            return _error_body(endpoint, refusal.code, refusal.info), False
        return _ok_body(endpoint, fields), endpoint not in READ_ONLY_ENDPOINTS

    def is_imported(self, user_id: str) -> bool:
        return user_id == self.admin_identifier or user_id in self.accounts

    def _owner(self, body: dict) -> tuple[str, _User]:
        """The From_Account and its state (a blank one, not stored, if it has none yet)."""
        owner = _text(body.get("From_Account"), "From_Account")
        if not self.is_imported(owner):
            raise _Refusal(errors.ACCOUNT_NOT_IMPORTED, f"From_Account {owner} is not imported")
        return owner, self.users.get(owner) or _User()

    def _item_refusal(self, key: Conversation) -> _Refusal | None:
        kind, target = key
        if kind == protocol.TYPE_C2C and not self.is_imported(target):
            return _Refusal(errors.ACCOUNT_NOT_IMPORTED, f"To_Account {target} is not imported")
        return None

    def _checked(self, item) -> tuple[Conversation | None, dict | None]:
        """The conversation ``item`` names, or the per-item refusal to answer instead."""
        try:
            key = _conversation(item)
        except _Refusal as refusal:
            return None, _result(refusal.code, refusal.info)
        refusal = self._item_refusal(key)
        if refusal:
            return None, _result(refusal.code, refusal.info)
        return key, None

    def _add(self, user: _User, group: _Group, item, now: int) -> dict:
        key, refused = self._checked(item)
        if refused:
            return refused
        if key in group.members:
            return _result()
        if key not in user.grouped and len(user.grouped) >= protocol.GROUPED_CONVERSATIONS_PER_USER_MAX:
            return _result(
                errors.TOO_MANY_GROUPED,
                f"the user already has {len(user.grouped)} grouped conversations; at most "
                f"{protocol.GROUPED_CONVERSATIONS_PER_USER_MAX} are allowed",
            )
        user.add_member(group, key, now)
        return _result()

    def _remove(self, user: _User, group: _Group, item, now: int) -> dict:
        key, refused = self._checked(item)
        if refused:
            return refused
        if key in group.members:
            user.remove_member(group, key, now)
        return _result()

    def _group_items(self, groups) -> list[dict]:
        return [{"GroupName": group.name, "GroupId": group.group_id} for group in groups]

    def _contact_fields(self, user: _User, key: Conversation) -> dict:
        contact = user.contacts.get(key) or _Contact()
        fields = _conversation_fields(key)
        fields.update(
            StandardMark=_mark_text(contact.standard_mark),
            CustomMark=contact.custom_mark,
            ContactGroupId=user.group_ids_of(key),
            Timestamp=contact.timestamp,
        )
        return fields

    def create_contact_group(self, body: dict, now: int) -> dict:
        owner, user = self._owner(body)
        entries = _items(body.get("GroupContactItem"), "GroupContactItem", protocol.GROUPS_PER_CREATE_MAX,
                         errors.INVALID_PARAMETER)
        if not entries or not isinstance(entries[0], dict):
            raise _Refusal(errors.INVALID_PARAMETER, "GroupContactItem must hold one group object")
        entry = entries[0]
        name = _group_name(entry.get("GroupName"), "GroupName")
        items = _items(entry.get("ContactItem"), "ContactItem", protocol.CONVERSATIONS_PER_REQUEST_MAX,
                       errors.TOO_MANY_IN_REQUEST, required=False)
        if user.group_named(name):
            raise _Refusal(errors.GROUP_NAME_TAKEN, f"the user already has a group named {name}")
        if len(user.groups) >= protocol.GROUPS_PER_USER_MAX:
            raise _Refusal(
                errors.TOO_MANY_GROUPS,
                f"the user already has {len(user.groups)} groups; at most {protocol.GROUPS_PER_USER_MAX} are allowed",
            )
        self.users[owner] = user
        group = _Group(user.next_group_id, name)
        user.next_group_id += 1
        user.groups.append(group)
        results = [{"ContactItem": item, **self._add(user, group, item, now)} for item in items]
        return {"GroupResultItem": [{"GroupItem": self._group_items([group])[0], "ResultItem": results}]}

    def update_contact_group(self, body: dict, now: int) -> dict:
        owner, user = self._owner(body)
        update_type = body.get("UpdateType")
        if update_type != UPDATE_TYPE_BY_GROUP or not _is_int(update_type):
            raise _Refusal(errors.INVALID_PARAMETER, f"UpdateType must be {UPDATE_TYPE_BY_GROUP}")
        update = body.get("UpdateGroup")
        if not isinstance(update, dict):
            raise _Refusal(errors.INVALID_PARAMETER, "UpdateGroup must be an object")
        kind = update.get("UpdateGroupType")
        if kind not in (UPDATE_GROUP_RENAME, UPDATE_GROUP_MEMBERS) or not _is_int(kind):
            raise _Refusal(
                errors.INVALID_PARAMETER,
                f"UpdateGroupType must be {UPDATE_GROUP_RENAME} (rename) or {UPDATE_GROUP_MEMBERS} (conversations)",
            )
        old_name = _text(update.get("OldGroupName"), "OldGroupName")
        if kind == UPDATE_GROUP_RENAME:
            new_name = _group_name(update.get("NewGroupName"), "NewGroupName")
            group = self._existing_group(user, old_name)
            if new_name != old_name and user.group_named(new_name):
                raise _Refusal(errors.GROUP_NAME_TAKEN, f"the user already has a group named {new_name}")
            group.name = new_name
            result = {"UpdateGroupType": kind, "GroupName": group.name, "GroupId": group.group_id,
                      "OldGroupName": old_name}
            return {"UpdateType": update_type, "UpdateGroupResult": result}
        items = _items(update.get("ContactUpdateItem"), "ContactUpdateItem", protocol.CONVERSATIONS_PER_REQUEST_MAX,
                       errors.TOO_MANY_IN_REQUEST)
        group = self._existing_group(user, old_name)
        results = [self._update_item(user, group, item, now) for item in items]
        result = {"UpdateGroupType": kind, "GroupName": group.name, "GroupId": group.group_id,
                  "OldGroupName": old_name, "ContactResultItem": results}
        return {"UpdateType": update_type, "UpdateGroupResult": result}

    def _existing_group(self, user: _User, name: str) -> _Group:
        group = user.group_named(name)
        if group is None:
            raise _Refusal(errors.GROUP_NOT_FOUND, f"the user has no group named {name}")
        return group

    def _update_item(self, user: _User, group: _Group, entry, now: int) -> dict:
        if not isinstance(entry, dict):
            return {"ContactOptType": None, "ContactItem": None,
                    **_result(errors.INVALID_PARAMETER, "ContactUpdateItem entries must be objects")}
        opt = entry.get("ContactOptType")
        item = entry.get("ContactItem")
        answer = {"ContactOptType": opt, "ContactItem": item}
        if opt == CONTACT_OPT_ADD and _is_int(opt):
            answer.update(self._add(user, group, item, now))
        elif opt == CONTACT_OPT_REMOVE and _is_int(opt):
            answer.update(self._remove(user, group, item, now))
        else:
            answer.update(_result(
                errors.INVALID_PARAMETER,
                f"ContactOptType must be {CONTACT_OPT_ADD} (add) or {CONTACT_OPT_REMOVE} (remove)",
            ))
        return answer

    def del_contact_group(self, body: dict, now: int) -> dict:
        owner, user = self._owner(body)
        names = _items(body.get("GroupName"), "GroupName", protocol.GROUPS_PER_DELETE_MAX, errors.INVALID_PARAMETER)
        if not names:
            raise _Refusal(errors.INVALID_PARAMETER, "GroupName must hold one group name")
        group = self._existing_group(user, _text(names[0], "GroupName"))
        for key in list(group.members):
            user.remove_member(group, key, now)
        user.groups.remove(group)
        return {"GroupItem": self._group_items([group])}

    def get_contact_group(self, body: dict, now: int) -> dict:
        owner, user = self._owner(body)
        start = body.get("StartIndex")
        if not _is_int(start) or start < 0:
            raise _Refusal(errors.INVALID_PARAMETER, "StartIndex must be an integer, 0 or more")
        keys = list(user.contacts)
        page = keys[start : start + self.page_size]
        following = start + len(page)
        return {
            "ContactItem": [self._contact_fields(user, key) for key in page],
            "GroupItem": self._group_items(user.groups),
            "CompleteFlag": 1 if following >= len(keys) else 0,
            "NextStartIndex": following,
        }

    def search_contact_group(self, body: dict, now: int) -> dict:
        owner, user = self._owner(body)
        items = _items(body.get("ContactItem"), "ContactItem", protocol.CONVERSATIONS_PER_SEARCH_MAX,
                       errors.TOO_MANY_IN_REQUEST)
        keys = [_conversation(item) for item in items]
        found = [self._contact_fields(user, key) for key in keys]
        ids = {group_id for fields in found for group_id in fields["ContactGroupId"]}
        return {
            "ContactResultItem": found,
            "GroupItem": self._group_items(group for group in user.groups if group.group_id in ids),
        }

    def mark_contact(self, body: dict, now: int) -> dict:
        owner, user = self._owner(body)
        entries = _items(body.get("MarkItem"), "MarkItem", protocol.MARK_ITEMS_PER_REQUEST_MAX,
                         errors.TOO_MANY_IN_REQUEST)
        self.users[owner] = user
        results = []
        for entry in entries:
            if not isinstance(entry, dict):
                results.append({"OptType": None, "ContactItem": None,
                                **_result(errors.INVALID_PARAMETER, "MarkItem entries must be objects")})
                continue
            answer = {"OptType": entry.get("OptType"), "ContactItem": entry.get("ContactItem")}
            try:
                self._mark(user, entry, now)
            except _Refusal as refusal:
                answer.update(_result(refusal.code, refusal.info))
            else:
                answer.update(_result())
            results.append(answer)
        return {"ResultItem": results}

    def _mark(self, user: _User, entry: dict, now: int) -> None:
        opt = entry.get("OptType")
        if opt not in (MARK_OPT_STANDARD, MARK_OPT_CUSTOM, MARK_OPT_BOTH) or not _is_int(opt):
            raise _Refusal(
                errors.INVALID_PARAMETER,
                f"OptType must be {MARK_OPT_STANDARD} (standard), {MARK_OPT_CUSTOM} (custom) or {MARK_OPT_BOTH} (both)",
            )
        key = _conversation(entry.get("ContactItem"))
        refusal = self._item_refusal(key)
        if refusal:
            raise refusal
        current = user.contacts.get(key) or _Contact()
        standard, custom = current.standard_mark, current.custom_mark
        if opt in (MARK_OPT_STANDARD, MARK_OPT_BOTH):
            for bit in self._mark_bits(entry.get("SetMark"), "SetMark"):
                standard |= 1 << bit
            for bit in self._mark_bits(entry.get("ClearMark"), "ClearMark"):
                standard &= ~(1 << bit)
        if opt in (MARK_OPT_CUSTOM, MARK_OPT_BOTH):
            custom = entry.get("CustomMark") or ""
            if not isinstance(custom, str):
                raise _Refusal(errors.INVALID_PARAMETER, "CustomMark must be a string")
            if protocol.utf8_length(custom) > protocol.CUSTOM_MARK_MAX_BYTES:
                raise _Refusal(errors.INVALID_PARAMETER,
                               f"CustomMark has more than {protocol.CUSTOM_MARK_MAX_BYTES} bytes")
        if not (standard or custom) and key not in user.contacts:
            return
        if (standard or custom) and not current.marked:
            if user.marked_count() >= protocol.MARKED_CONVERSATIONS_PER_USER_MAX:
                raise _Refusal(errors.TOO_MANY_GROUPED,
                               f"at most {protocol.MARKED_CONVERSATIONS_PER_USER_MAX} conversations can be marked")
        contact = user.touch(key, now)
        contact.standard_mark, contact.custom_mark = standard, custom
        user.forget_if_unused(key)

    @staticmethod
    def _mark_bits(value, name: str) -> list[int]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(
            _is_int(bit) and 0 <= bit < protocol.STANDARD_MARK_BITS for bit in value
        ):
            raise _Refusal(errors.INVALID_PARAMETER,
                           f"{name} must list bit numbers from 0 to {protocol.STANDARD_MARK_BITS - 1}")
        return value

    def get_list(self, body: dict, now: int) -> dict:
        owner, user = self._owner(body)
        paging = {}
        for name in ("TimeStamp", "StartIndex", "TopTimeStamp", "TopStartIndex", "AssistFlags"):
            value = body.get(name)
            if not _is_int(value) or value < 0:
                raise _Refusal(errors.INVALID_PARAMETER, f"{name} must be an integer, 0 or more")
            paging[name] = value
        ordered = sorted(user.sessions.items(), key=lambda pair: -pair[1])
        start = paging["StartIndex"]
        page = ordered[start : start + self.page_size]
        items = []
        for key, msg_time in page:
            contact = user.contacts.get(key) or _Contact()
            fields = _conversation_fields(key, group_field="GroupId")
            fields.update(
                MsgTime=msg_time,
                TopFlag=0,
                StandardMark=_mark_text(contact.standard_mark),
                CustomMark=contact.custom_mark,
                ContactGroupId=user.group_ids_of(key),
            )
            items.append(fields)
        following = start + len(page)
        return {
            "CompleteFlag": 1 if following >= len(ordered) else 0,
            "TimeStamp": paging["TimeStamp"],
            "StartIndex": following,
            "TopTimeStamp": paging["TopTimeStamp"],
            "TopStartIndex": paging["TopStartIndex"],
            "SessionItem": items,
        }

    def delete(self, body: dict, now: int) -> dict:
        owner, user = self._owner(body)
        if body.get("Type") == protocol.TYPE_GROUP and "ToGroupId" in body and "ToGroupid" not in body:
            raise _Refusal(errors.INVALID_PARAMETER, "recentcontact/delete spells the group field ToGroupid")
        key = _conversation(body, group_field="ToGroupid")
        clear = body.get("ClearRamble", 0)
        if clear not in (0, 1) or not _is_int(clear):
            raise _Refusal(errors.INVALID_PARAMETER, "ClearRamble must be 0 or 1")
        if owner in self.users:
            self.users[owner].sessions.pop(key, None)
        return {}

    def _import(self, user_id, nick=None, face_url=None) -> None:
        if not isinstance(user_id, str) or protocol.validate_user_id(user_id):
            messages = protocol.validate_user_id(user_id) if isinstance(user_id, str) else ["must be a string"]
            raise _Refusal(errors.INVALID_PARAMETER, f"UserID {user_id!r}: {' '.join(messages)}")
        account = self.accounts.setdefault(user_id, {"Nick": "", "FaceUrl": ""})
        if nick is not None:
            account["Nick"] = nick
        if face_url is not None:
            account["FaceUrl"] = face_url

    def account_import(self, body: dict, now: int) -> dict:
        user_id = body.get("UserID", body.get("Identifier"))
        nick, face_url = body.get("Nick"), body.get("FaceUrl")
        for name, value in (("Nick", nick), ("FaceUrl", face_url)):
            if value is not None and not isinstance(value, str):
                raise _Refusal(errors.INVALID_PARAMETER, f"{name} must be a string")
        self._import(user_id, nick, face_url)
        return {}

    def multiaccount_import(self, body: dict, now: int) -> dict:
        accounts = _items(body.get("Accounts"), "Accounts", protocol.ACCOUNTS_PER_IMPORT_MAX, errors.INVALID_PARAMETER)
        failed = []
        for user_id in accounts:
            try:
                self._import(user_id)
            except _Refusal:
                failed.append(user_id)
        return {"FailAccounts": failed}

    def account_check(self, body: dict, now: int) -> dict:
        entries = _items(body.get("CheckItem"), "CheckItem", protocol.ACCOUNTS_PER_CHECK_MAX, errors.INVALID_PARAMETER)
        results = []
        for entry in entries:
            user_id = entry.get("UserID") if isinstance(entry, dict) else None
            if not isinstance(user_id, str) or not user_id:
                results.append({"UserID": user_id, "AccountStatus": "NotImported",
                                **_result(errors.INVALID_PARAMETER, "UserID must be a non-empty string")})
                continue
            status = "Imported" if self.is_imported(user_id) else "NotImported"
            results.append({"UserID": user_id, **_result(), "AccountStatus": status})
        return {"ResultItem": results}

    def snapshot(self) -> dict:
        """The whole state as a JSON-ready document (the state file's content)."""
        users = {}
        for user_id, user in self.users.items():
            users[user_id] = {
                "next_group_id": user.next_group_id,
                "groups": [
                    {"name": group.name, "group_id": group.group_id, "members": [list(key) for key in group.members]}
                    for group in user.groups
                ],
                "contacts": [
                    {"type": key[0], "target": key[1], "standard_mark": contact.standard_mark,
                     "custom_mark": contact.custom_mark, "timestamp": contact.timestamp}
                    for key, contact in user.contacts.items()
                ],
                "sessions": [{"type": key[0], "target": key[1], "msg_time": msg_time}
                             for key, msg_time in user.sessions.items()],
            }
        return {"format": STATE_FORMAT, "accounts": {uid: dict(a) for uid, a in self.accounts.items()},
                "users": users}

    def load(self, document: dict) -> None:
        """Replace the state with a document made by ``snapshot``."""
        if document.get("format") != STATE_FORMAT:
            raise ValueError(f"unknown sandbox state format {document.get('format')!r}")
        self.accounts = {uid: dict(account) for uid, account in document.get("accounts", {}).items()}
        self.users = {}
        for user_id, data in document.get("users", {}).items():
            user = _User(next_group_id=data["next_group_id"])
            for entry in data["groups"]:
                group = _Group(entry["group_id"], entry["name"])
                for kind, target in entry["members"]:
                    group.members[(kind, target)] = None
                    user.grouped[(kind, target)] = user.grouped.get((kind, target), 0) + 1
                user.groups.append(group)
            for entry in data["contacts"]:
                user.contacts[(entry["type"], entry["target"])] = _Contact(
                    entry["standard_mark"], entry["custom_mark"], entry["timestamp"]
                )
            for entry in data["sessions"]:
                user.sessions[(entry["type"], entry["target"])] = entry["msg_time"]
            self.users[user_id] = user

    def clear(self) -> None:
        self.accounts = {}
        self.users = {}


@dataclass(frozen=True)
class Faults:
    """What the sandbox does wrong on purpose; see the module docstring for each field."""

    latency_ms: float = 0
    fail_rate: float = 0.0
    fail_codes: tuple[int, ...] = ()
    timeout_rate: float = 0.0
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    drop_rate: float = 0.0
    http_error_rate: float = 0.0
    ambiguous: bool = False
    endpoints: tuple[str, ...] = ()
    max_faults: int | None = None
    rate_limit: int = 0

    RATES = ("drop_rate", "timeout_rate", "http_error_rate", "fail_rate")

    def updated(self, changes: dict) -> "Faults":
        """A copy with ``changes`` applied, or ValueError naming the first bad field."""
        known = {name for name in self.__dataclass_fields__} | {"seed"}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(unknown)}")
        values = {name: value for name, value in changes.items() if name != "seed"}
        for name in (*self.RATES, "latency_ms", "timeout_seconds"):
            if name in values:
                value = values[name]
                if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"{name} must be a number, 0 or more")
                if name in self.RATES and value > 1:
                    raise ValueError(f"{name} must be between 0 and 1")
        if "fail_codes" in values:
            codes = values["fail_codes"]
            if not isinstance(codes, list | tuple) or not all(_is_int(code) and code != errors.OK for code in codes):
                raise ValueError("fail_codes must be a list of non-zero integer codes")
            values["fail_codes"] = tuple(codes)
        if "endpoints" in values:
            names = values["endpoints"]
            if not isinstance(names, list | tuple) or not all(name in ENDPOINTS for name in names):
                raise ValueError(f"endpoints must list names from: {', '.join(ENDPOINTS)}")
            values["endpoints"] = tuple(names)
        if "ambiguous" in values and not isinstance(values["ambiguous"], bool):
            raise ValueError("ambiguous must be true or false")
        if "max_faults" in values and values["max_faults"] is not None:
            if not _is_int(values["max_faults"]) or values["max_faults"] < 0:
                raise ValueError("max_faults must be an integer, 0 or more, or null")
        if "rate_limit" in values and (not _is_int(values["rate_limit"]) or values["rate_limit"] < 0):
            raise ValueError("rate_limit must be an integer, 0 or more")
        if "seed" in changes and not _is_int(changes["seed"]):
            raise ValueError("seed must be an integer")
        result = replace(self, **values)
        if sum(getattr(result, name) for name in self.RATES) > 1:
            raise ValueError(f"{', '.join(self.RATES)} together must not exceed 1")
        return result

    def touches(self, endpoint: str) -> bool:
        return not self.endpoints or endpoint in self.endpoints

    def as_dict(self) -> dict:
        document = asdict(self)
        document["fail_codes"] = list(self.fail_codes)
        document["endpoints"] = list(self.endpoints)
        return document


@dataclass
class _Reply:
    status: int = http.HTTPStatus.OK
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    wait: float = 0.0
    drop: bool = False


def _json_reply(document, status: int = http.HTTPStatus.OK, wait: float = 0.0) -> _Reply:
    return _Reply(status, json.dumps(document, ensure_ascii=False).encode("utf-8"), wait=wait)


_BAD_GATEWAY_BODY = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"


class _Handler(http.server.BaseHTTPRequestHandler):
    """One keep-alive connection; every request goes to ``SandboxServer.respond``."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = IDLE_CONNECTION_SECONDS
    server_version = "ChatSandbox"

    def setup(self):
        super().setup()
        self.server.sandbox._connections.add(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.sandbox._connections.discard(self.connection)

    def log_message(self, format, *args):
        """Stay silent: a line per request would cost more than serving it."""

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_DELETE(self):
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        sandbox = self.server.sandbox
        try:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length > 0 else b""
            reply = sandbox.respond(method, self.path, raw, self.headers.get(ACTOR_HEADER, ""))
        except Exception:
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            reply = _json_reply(_error_body("", errors.INTERNAL_ERROR, "sandbox internal error"),
                                http.HTTPStatus.INTERNAL_SERVER_ERROR)
        if reply.wait > 0:
            sandbox._stopping.wait(reply.wait)
        if reply.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        head = (
            f"HTTP/1.1 {int(reply.status)} {http.HTTPStatus(reply.status).phrase}\r\n"
            f"Server: {self.server_version}\r\n"
            f"Content-Type: {reply.content_type}\r\n"
            f"Content-Length: {len(reply.body)}\r\n"
        )
        if self.close_connection:
            head += "Connection: close\r\n"
        self.wfile.write(head.encode("latin-1") + b"\r\n" + reply.body)


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address, sandbox: "SandboxServer"):
        self.sandbox = sandbox
        super().__init__(address, _Handler)

    def server_bind(self):
        """Bind without the reverse DNS lookup HTTPServer does for its name."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        """Ignore clients that went away; report anything else."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class SandboxServer:
    """The sandbox over HTTP: ``SandboxServer(...).start()`` serves in a background thread until ``stop()``.

    ``base_url`` is where it listens, ``post()`` calls it as the end user's app would, ``set_faults()``,
    ``clear_faults()``, ``reset()``, ``calls`` and ``snapshot()`` do in-process what the control endpoints do.
    """

    def __init__(
        self,
        sdkappid: int,
        secret_key: str,
        admin_identifier: str,
        host: str = "127.0.0.1",
        port: int = 0,
        state_path: str | os.PathLike | None = None,
        latency_ms: float = 0,
        fail_rate: float = 0.0,
        fail_codes=(),
        rate_limit: int = 0,
        page_size: int = DEFAULT_PAGE_SIZE,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        calls_max: int = CALL_LOG_MAX,
    ):
        self.sdkappid = int(sdkappid)
        self.secret_key = secret_key
        self.admin_identifier = admin_identifier
        self.host = host
        self.port = port
        self.state_path = Path(state_path) if state_path else None
        self._state = ChatState(admin_identifier, page_size)
        self._faults = Faults().updated({
            "latency_ms": latency_ms, "fail_rate": fail_rate, "fail_codes": list(fail_codes),
            "rate_limit": rate_limit, "timeout_seconds": timeout_seconds,
        })
        self._faults_left: int | None = None
        self._faults_injected = 0
        self._rng = random.Random()
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._calls: deque[dict] = deque(maxlen=calls_max)
        self._seq = 0
        self._windows: dict[str, deque[float]] = {}
        self._usersigs: dict[tuple[str, str], int] = {}
        self._dirty = False
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._admin_usersig = generate_usersig(self.sdkappid, secret_key, admin_identifier)

    # Life cycle

    def start(self) -> "SandboxServer":
        """Load the state file (if any), listen and serve in background threads."""
        if self._httpd is not None:
            raise RuntimeError("the sandbox is already started")
        if self.state_path and self.state_path.exists():
            self._state.load(json.loads(self.state_path.read_text(encoding="utf-8")))
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self.port), self)
        self.port = self._httpd.server_address[1]
        serve = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                 name="chat-sandbox", daemon=True)
        self._threads = [serve]
        if self.state_path:
            self._threads.append(threading.Thread(target=self._flush_loop, name="chat-sandbox-flush", daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and save the state. Safe to call twice."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        for connection in list(self._connections):
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self._threads:
            thread.join()
        self._httpd = None
        self.save()

    def __enter__(self) -> "SandboxServer":
        return self if self._httpd is not None else self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # Persistence

    def save(self) -> None:
        """Write the state file now (temporary file, then rename), if there is one."""
        if not self.state_path:
            return
        with self._save_lock:
            with self._lock:
                document = self._state.snapshot()
                self._dirty = False
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.state_path.with_name(f".{self.state_path.name}.{os.getpid()}.tmp")
            with open(temporary, "w", encoding="utf-8") as stream:
                json.dump(document, stream, ensure_ascii=False)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.state_path)

    def _flush_loop(self) -> None:
        while not self._stopping.wait(FLUSH_INTERVAL_SECONDS):
            if self._dirty:
                self.save()

    # In-process control

    def set_faults(self, **changes) -> dict:
        """Change the fault fields given (see the module docstring); answer all settings."""
        with self._lock:
            self._faults = self._faults.updated(changes)
            if "seed" in changes:
                self._rng.seed(changes["seed"])
            if "max_faults" in changes:
                self._faults_left = changes["max_faults"]
            return self._faults_document()

    def clear_faults(self) -> dict:
        """No faults, no latency, no rate limit."""
        with self._lock:
            self._faults = Faults(timeout_seconds=self._faults.timeout_seconds)
            self._faults_left = None
            return self._faults_document()

    @property
    def faults(self) -> dict:
        with self._lock:
            return self._faults_document()

    def _faults_document(self) -> dict:
        return {**self._faults.as_dict(), "faults_left": self._faults_left, "faults_injected": self._faults_injected}

    def reset(self) -> None:
        """Forget all accounts, groups, marks and sessions, and the call log."""
        with self._lock:
            self._state.clear()
            self._calls.clear()
            self._windows.clear()
            self._dirty = True

    @property
    def calls(self) -> list[dict]:
        """Every call received so far (up to ``calls_max``, oldest first)."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, endpoint: str | None = None, actor: str | None = ACTOR_CLIENT) -> list[dict]:
        """The calls to ``endpoint`` (any, if None) from ``actor`` (any, if None)."""
        return [
            call for call in self.calls
            if (endpoint is None or call["endpoint"] == endpoint) and (actor is None or call["actor"] == actor)
        ]

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def snapshot(self) -> dict:
        """The whole state, as ``GET /__sandbox__/state`` shows it."""
        with self._lock:
            return self._state.snapshot()

    def signed_url(self, endpoint: str, identifier: str | None = None, usersig: str | None = None,
                   sdkappid: int | str | None = None) -> str:
        """The URL of ``endpoint`` with the admin's (or the given) credentials in the query string."""
        query = urllib.parse.urlencode({
            "sdkappid": self.sdkappid if sdkappid is None else sdkappid,
            "identifier": self.admin_identifier if identifier is None else identifier,
            "usersig": self._admin_usersig if usersig is None else usersig,
            "random": random.randint(0, 2**32 - 1),
            "contenttype": "json",
        }, safe="*")
        return f"{self.base_url}{API_PREFIX}{endpoint}?{query}"

    def post(self, endpoint: str, body, actor: str = ACTOR_APP, timeout: float = 10.0) -> dict:
        """Send ``body`` to ``endpoint`` over HTTP as the admin and return Chat's parsed answer.

        By default the call is marked as the end user's app (exempt from faults and not a client call).
        """
        data = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
        request = urllib.request.Request(
            self.signed_url(endpoint), data=data, method="POST",
            headers={"Content-Type": "application/json", ACTOR_HEADER: actor},
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=timeout) as response:
            return json.loads(response.read())

    def import_accounts(self, *user_ids: str) -> dict:
        """Import ``user_ids`` into the sandbox as the app would before using them."""
        return self.post("im_open_login_svc/multiaccount_import", {"Accounts": list(user_ids)})

    # Serving

    def respond(self, method: str, target: str, raw: bytes, actor: str = "") -> "_Reply":
        """The reply to one HTTP request (called from the handler threads)."""
        parts = urllib.parse.urlsplit(target)
        if parts.path.startswith(CONTROL_PREFIX):
            return self._control(method, parts.path[len(CONTROL_PREFIX):].strip("/"), parts.query, raw)
        return self._api(method, parts.path, parts.query, raw, actor or ACTOR_CLIENT)

    def _authenticate(self, query: dict) -> _Refusal | None:
        sdkappid = query.get("sdkappid")
        if not sdkappid:
            return _Refusal(errors.SDKAPPID_MISSING, "the URL has no sdkappid")
        if sdkappid != str(self.sdkappid):
            return _Refusal(errors.SDKAPPID_INVALID, f"sdkappid {sdkappid} is not this app")
        identifier = query.get("identifier", "")
        usersig = query.get("usersig", "")
        if not usersig:
            return _Refusal(errors.USERSIG_INVALID, "the URL has no usersig")
        expires_at = self._usersigs.get((usersig, identifier))
        if expires_at is None:
            try:
                info = verify_usersig(usersig, self.sdkappid, self.secret_key, identifier)
            except UserSigError as exc:
                code = errors.USERSIG_EXPIRED if exc.reason == UserSigError.EXPIRED else errors.USERSIG_INVALID
                return _Refusal(code, str(exc))
            if len(self._usersigs) >= USERSIG_CACHE_MAX:
                self._usersigs.clear()
            expires_at = self._usersigs[(usersig, identifier)] = info.expires_at
        if time.time() > expires_at:
            return _Refusal(errors.USERSIG_EXPIRED, "The UserSig has expired.")
        if identifier != self.admin_identifier:
            return _Refusal(errors.ADMIN_REQUIRED, f"identifier {identifier} is not the app administrator")
        return None

    def _api(self, method: str, path: str, query_text: str, raw: bytes, actor: str) -> _Reply:
        endpoint = path[len(API_PREFIX):] if path.startswith(API_PREFIX) else path.lstrip("/")
        query = {name: values[0] for name, values in urllib.parse.parse_qs(query_text, keep_blank_values=True).items()}
        body = None
        if method != "POST" or endpoint not in ENDPOINTS:
            refusal = _Refusal(errors.UNKNOWN_RESOURCE, f"{method} {path} is not a Chat REST API")
        else:
            refusal = self._authenticate(query)
        if refusal is None:
            try:
                body = json.loads(raw)
            except ValueError:
                refusal = _Refusal(errors.BAD_REQUEST_BODY, "the body is not valid JSON")
            else:
                if not isinstance(body, dict):
                    refusal = _Refusal(errors.BAD_REQUEST_BODY, "the body must be a JSON object")
        exempt = actor == ACTOR_APP
        fault = None
        applied = False
        with self._lock:
            faults = self._faults
            if refusal is None and not exempt and self._over_rate_limit(endpoint, faults.rate_limit):
                refusal = _Refusal(errors.RATE_LIMITED, f"more than {faults.rate_limit} calls a second to {endpoint}")
            if refusal is None and not exempt:
                fault = self._draw_fault(endpoint, faults)
            if refusal is not None:
                response = _error_body(endpoint, refusal.code, refusal.info)
            elif fault == FAULT_FAIL:
                code = self._rng.choice(faults.fail_codes or (errors.INTERNAL_ERROR,))
                response = _error_body(endpoint, code, f"injected by the sandbox: {errors.describe(code)}")
            elif fault == FAULT_TIMEOUT and not faults.ambiguous:
                response = _error_body(endpoint, errors.SERVICE_TIMEOUT, "injected by the sandbox: service timeout")
            elif fault is not None and not faults.ambiguous:
                response = None
            else:
                response, changed = self._state.dispatch(endpoint, body)
                applied = True
                self._dirty = self._dirty or changed
            self._record(endpoint, actor, query, body, raw, fault, applied, response)
        wait = faults.latency_ms / 1000 if not exempt and faults.touches(endpoint) else 0.0
        if fault == FAULT_DROP:
            return _Reply(drop=True, wait=wait)
        if fault == FAULT_HTTP_ERROR:
            return _Reply(http.HTTPStatus.BAD_GATEWAY, _BAD_GATEWAY_BODY, "text/html", wait=wait)
        if fault == FAULT_TIMEOUT:
            wait += faults.timeout_seconds
        return _json_reply(response, wait=wait)

    def _over_rate_limit(self, endpoint: str, rate_limit: int) -> bool:
        """Count this call in the endpoint's one-second window; True if it goes past ``rate_limit``."""
        if not rate_limit:
            return False
        now = time.monotonic()
        window = self._windows.setdefault(endpoint, deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= rate_limit:
            return True
        window.append(now)
        return False

    def _draw_fault(self, endpoint: str, faults: Faults) -> str | None:
        if not faults.touches(endpoint) or self._faults_left == 0:
            return None
        if not (faults.drop_rate or faults.timeout_rate or faults.http_error_rate or faults.fail_rate):
            return None
        draw = self._rng.random()
        for name, rate in ((FAULT_DROP, faults.drop_rate), (FAULT_TIMEOUT, faults.timeout_rate),
                           (FAULT_HTTP_ERROR, faults.http_error_rate), (FAULT_FAIL, faults.fail_rate)):
            if draw < rate:
                self._faults_injected += 1
                if self._faults_left is not None:
                    self._faults_left -= 1
                return name
            draw -= rate
        return None

    def _record(self, endpoint, actor, query, body, raw, fault, applied, response) -> None:
        self._seq += 1
        if fault == FAULT_DROP:
            outcome, status = "dropped", None
        elif fault == FAULT_TIMEOUT:
            outcome, status = "timed_out", http.HTTPStatus.OK
        elif fault == FAULT_HTTP_ERROR:
            outcome, status = "http_error", http.HTTPStatus.BAD_GATEWAY
        else:
            outcome = "ok" if response and response["ErrorCode"] == errors.OK else "error"
            status = http.HTTPStatus.OK
        record = {
            "seq": self._seq,
            "time": time.time(),
            "endpoint": endpoint,
            "actor": actor,
            "identifier": query.get("identifier", ""),
            "body": body if body is not None else raw.decode("utf-8", errors="replace"),
            "outcome": outcome,
            "injected": fault is not None,
            "applied": applied,
            "http_status": int(status) if status else None,
            "error_code": response["ErrorCode"] if response and fault in (None, FAULT_FAIL, FAULT_TIMEOUT) else None,
            "response": response,
        }
        self._calls.append(record)

    def _control(self, method: str, name: str, query_text: str, raw: bytes) -> _Reply:
        query = {key: values[0] for key, values in urllib.parse.parse_qs(query_text).items()}
        if (method, name) == ("GET", "health"):
            return _json_reply({"status": "ok", "sdkappid": self.sdkappid, "admin_identifier": self.admin_identifier})
        if (method, name) == ("GET", "state"):
            return _json_reply(self.snapshot())
        if (method, name) == ("POST", "reset"):
            self.reset()
            return _json_reply({"reset": True})
        if (method, name) == ("GET", "faults"):
            return _json_reply(self.faults)
        if (method, name) == ("DELETE", "faults"):
            return _json_reply(self.clear_faults())
        if (method, name) == ("POST", "faults"):
            try:
                changes = json.loads(raw or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("the body must be a JSON object of fault fields")
                return _json_reply(self.set_faults(**changes))
            except ValueError as exc:
                return _json_reply({"error": str(exc)}, http.HTTPStatus.BAD_REQUEST)
        if (method, name) == ("GET", "calls"):
            try:
                since = int(query.get("since", 0))
            except ValueError:
                return _json_reply({"error": "since must be an integer"}, http.HTTPStatus.BAD_REQUEST)
            calls = [call for call in self.calls_to(query.get("endpoint"), query.get("actor")) if call["seq"] > since]
            return _json_reply({"calls": calls})
        if (method, name) == ("DELETE", "calls"):
            self.clear_calls()
            return _json_reply({"calls": []})
        return _json_reply({"error": f"no control endpoint {method} {CONTROL_PREFIX}{name}"}, http.HTTPStatus.NOT_FOUND)
