"""Reading a request body as Chat does: field checks that raise a Refusal with Chat's code, and answer bodies."""

from contactgroups.chat import errors, protocol

# A conversation as the sandbox keys its data: (Type, target). A plain tuple, hashed on every lookup; the client's
# conversation type is chat.types.Conversation.
ConversationKey = tuple[int, str]


class Refusal(Exception):
    """A request (or one item of it) that Chat refuses with ``code``."""

    def __init__(self, code: int, info: str):
        super().__init__(info)
        self.code = code
        self.info = info


def item_result(code: int = errors.OK, info: str = "") -> dict:
    """The ResultCode and ResultInfo of one item of an answer."""
    return {"ResultCode": code, "ResultInfo": info}


def error_body(endpoint: str, code: int, info: str) -> dict:
    body = {"ActionStatus": "FAIL", "ErrorCode": code, "ErrorInfo": info}
    if endpoint in protocol.ERROR_DISPLAY_ENDPOINTS:
        body["ErrorDisplay"] = ""
    return body


def ok_body(endpoint: str, fields: dict) -> dict:
    body = dict(fields)
    body.update(ActionStatus="OK", ErrorCode=errors.OK, ErrorInfo="")
    if endpoint in protocol.ERROR_DISPLAY_ENDPOINTS:
        body["ErrorDisplay"] = ""
    return body


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_text(value, name: str) -> str:
    """A required non-empty string field, or a 50002 refusal."""
    if not isinstance(value, str) or not value:
        raise Refusal(errors.INVALID_PARAMETER, f"{name} must be a non-empty string")
    return value


def read_array(value, name: str, most: int, too_many_code: int, required: bool = True,
               invalid_code: int = errors.INVALID_PARAMETER) -> list:
    """A list field of at most ``most`` entries; ``invalid_code`` when it is missing or not a list."""
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise Refusal(invalid_code, f"{name} must be an array")
    if len(value) > most:
        raise Refusal(too_many_code, f"{name} holds {len(value)} entries; at most {most} are allowed")
    return value


def read_group_name(value, name: str) -> str:
    name_text = read_text(value, name)
    size = protocol.utf8_length(name_text)
    if size > protocol.GROUP_NAME_MAX_BYTES:
        raise Refusal(
            errors.GROUP_NAME_TOO_LONG,
            f"{name} is {size} bytes; a group name has at most {protocol.GROUP_NAME_MAX_BYTES} bytes",
        )
    return name_text


def read_conversation(item, group_field: str = protocol.TO_GROUP_ID) -> ConversationKey:
    """The (Type, target) a ContactItem names, or a 50002 refusal saying what is wrong with it."""
    if not isinstance(item, dict):
        raise Refusal(errors.INVALID_PARAMETER, "ContactItem must be an object")
    kind = item.get("Type")
    to_account = item.get(protocol.TO_ACCOUNT)
    to_group = item.get(group_field)
    if kind == protocol.TYPE_C2C and is_int(kind):
        if to_group is not None:
            raise Refusal(errors.INVALID_PARAMETER, f"a one-to-one conversation takes To_Account, not {group_field}")
        return kind, read_text(to_account, protocol.TO_ACCOUNT)
    if kind == protocol.TYPE_GROUP and is_int(kind):
        if to_account is not None:
            raise Refusal(errors.INVALID_PARAMETER, f"a group conversation takes {group_field}, not To_Account")
        return kind, read_text(to_group, group_field)
    raise Refusal(errors.INVALID_PARAMETER, f"Type must be {protocol.TYPE_C2C} or {protocol.TYPE_GROUP}")


def conversation_fields(key: ConversationKey, group_field: str = protocol.TO_GROUP_ID) -> dict:
    """The ContactItem fields of ``key``; ``group_field`` is the spelling of the group id the endpoint uses."""
    kind, target = key
    return {"Type": kind, (protocol.TO_ACCOUNT if kind == protocol.TYPE_C2C else group_field): target}


def mark_text(mark: int) -> str:
    """A standard mark as Chat shows it: binary digits, most significant first."""
    return format(mark, "b") if mark else ""
