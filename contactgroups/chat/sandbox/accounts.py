"""The sandbox's imported accounts and the three im_open_login_svc endpoints that import and check them.

A missing or malformed field of these endpoints is 70402, not the recentcontact 50002 (the error tables of
"导入多个账号", https://www.tencentcloud.com/zh/document/product/1047/34954, and of account_import). A Nick or
FaceUrl over the 500 bytes of a profile value ("资料管理", https://cloud.tencent.com/document/product/269/1500) is
40601, and the call imports nothing.
"""

from contactgroups.chat import errors, protocol
from contactgroups.chat.sandbox.parsing import Refusal, item_result, read_array


def _check_profile(nick, face_url) -> None:
    for name, value in (("Nick", nick), ("FaceUrl", face_url)):
        if value is not None and not isinstance(value, str):
            raise Refusal(errors.ACCOUNT_INVALID_PARAMETER, f"{name} must be a string")
        if value is not None and protocol.utf8_length(value) > protocol.PROFILE_VALUE_MAX_BYTES:
            raise Refusal(errors.PROFILE_VALUE_TOO_LONG,
                          f"{name} is {protocol.utf8_length(value)} bytes, over {protocol.PROFILE_VALUE_MAX_BYTES}")


class Accounts:
    """The imported UserIDs with their nick and face URL; the administrator always counts as imported."""

    def __init__(self, admin_identifier: str):
        self.admin_identifier = admin_identifier
        self.profiles: dict[str, dict] = {}

    def is_imported(self, user_id: str) -> bool:
        return user_id == self.admin_identifier or user_id in self.profiles

    def _import(self, user_id, nick=None, face_url=None) -> None:
        if not isinstance(user_id, str) or protocol.validate_user_id(user_id):
            messages = protocol.validate_user_id(user_id) if isinstance(user_id, str) else ["must be a string"]
            raise Refusal(errors.ACCOUNT_INVALID_PARAMETER, f"UserID {user_id!r}: {' '.join(messages)}")
        account = self.profiles.setdefault(user_id, {"Nick": "", "FaceUrl": ""})
        if nick is not None:
            account["Nick"] = nick
        if face_url is not None:
            account["FaceUrl"] = face_url

    def account_import(self, body: dict, now: int) -> dict:
        user_id = body.get("UserID", body.get("Identifier"))
        nick, face_url = body.get("Nick"), body.get("FaceUrl")
        _check_profile(nick, face_url)
        self._import(user_id, nick, face_url)
        return {}

    def multiaccount_import(self, body: dict, now: int) -> dict:
        """The older ``Accounts`` (UserIDs) or the newer ``AccountList`` (UserID, Nick, FaceUrl) form.

        The Chinese page (https://cloud.tencent.com/document/product/269/4919) documents both; an account
        already imported takes the Nick and FaceUrl given (trtc.io/document/34954).
        """
        if "AccountList" in body:
            entries = read_array(body.get("AccountList"), "AccountList", protocol.ACCOUNTS_PER_IMPORT_MAX,
                                 errors.ACCOUNT_INVALID_PARAMETER, invalid_code=errors.ACCOUNT_INVALID_PARAMETER)
            for entry in entries:
                if not isinstance(entry, dict):
                    raise Refusal(errors.ACCOUNT_INVALID_PARAMETER, "AccountList entries must be objects")
                _check_profile(entry.get("Nick"), entry.get("FaceUrl"))
            accounts = [(entry.get("UserID"), entry.get("Nick"), entry.get("FaceUrl")) for entry in entries]
        else:
            user_ids = read_array(body.get("Accounts"), "Accounts", protocol.ACCOUNTS_PER_IMPORT_MAX,
                                  errors.ACCOUNT_INVALID_PARAMETER, invalid_code=errors.ACCOUNT_INVALID_PARAMETER)
            accounts = [(user_id, None, None) for user_id in user_ids]
        failed = []
        for user_id, nick, face_url in accounts:
            try:
                self._import(user_id, nick, face_url)
            except Refusal:
                failed.append(user_id)
        return {"FailAccounts": failed}

    def account_check(self, body: dict, now: int) -> dict:
        entries = read_array(body.get("CheckItem"), "CheckItem", protocol.ACCOUNTS_PER_CHECK_MAX,
                             errors.ACCOUNT_INVALID_PARAMETER, invalid_code=errors.ACCOUNT_INVALID_PARAMETER)
        results = []
        for entry in entries:
            user_id = entry.get("UserID") if isinstance(entry, dict) else None
            if not isinstance(user_id, str) or not user_id:
                refused = item_result(errors.ACCOUNT_INVALID_PARAMETER, "UserID must be a non-empty string")
                results.append({"UserID": user_id, "AccountStatus": protocol.ACCOUNT_NOT_IMPORTED, **refused})
                continue
            status = protocol.ACCOUNT_IMPORTED if self.is_imported(user_id) else protocol.ACCOUNT_NOT_IMPORTED
            results.append({"UserID": user_id, **item_result(), "AccountStatus": status})
        return {"ResultItem": results}

    def to_document(self) -> dict:
        """The accounts' part of the state file."""
        return {user_id: dict(profile) for user_id, profile in self.profiles.items()}

    def load(self, document: dict) -> None:
        self.profiles = {user_id: dict(profile) for user_id, profile in document.items()}

    def clear(self) -> None:
        self.profiles = {}
