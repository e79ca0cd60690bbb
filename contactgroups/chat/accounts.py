"""Chat's accounts: importing UserIDs (account_import, multiaccount_import) and checking them (account_check).

``AccountStatus`` is read from account_check's answer; ``AccountCalls`` is the part of ``client.ChatClient`` that
calls these endpoints.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from contactgroups.chat import checks, errors, protocol
from contactgroups.chat.fields import item_code
from contactgroups.chat.transport import Transport


@dataclass(frozen=True)
class AccountStatus:
    """Whether a UserID exists in Chat (account_check)."""

    user_id: str
    imported: bool
    result_code: int
    result_info: str

    @classmethod
    def from_json(cls, entry: dict) -> "AccountStatus":
        """One ResultItem of account_check's answer."""
        return cls(
            user_id=str(entry["UserID"]),
            imported=entry.get("AccountStatus") == protocol.ACCOUNT_IMPORTED,
            result_code=item_code(entry.get("ResultCode", errors.OK)),
            result_info=protocol.escaped(str(entry.get("ResultInfo", ""))),
        )


class AccountCalls:
    """The account endpoints of ``ChatClient``."""

    _transport: Transport

    def account_import(self, user_id: str, nick: str = "", face_url: str = "") -> None:
        """Import one UserID into Chat (importing an existing one succeeds)."""
        checks.owner(user_id)
        checks.nickname(user_id, nick)
        body = {"UserID": user_id}
        if nick:
            body["Nick"] = nick
        if face_url:
            body["FaceUrl"] = face_url
        self._transport.call(protocol.ACCOUNT_IMPORT, body)

    def multiaccount_import(self, user_ids: Sequence[str], nicks: Mapping[str, str] | None = None) -> list[str]:
        """Import ``user_ids``, each with its nickname in ``nicks`` if it has one; returns those Chat could not
        import.

        Any number may be passed: they are sent in calls of at most ACCOUNTS_PER_IMPORT_MAX (duplicates once).
        A call with a nickname uses the newer ``AccountList`` form, in which an account Chat has already takes
        the Nick given ("Importing Multiple Accounts", trtc.io/document/34954); a user without one is sent
        without Nick, so Chat keeps the one it has. Importing is idempotent, so after an error the whole list can
        simply be imported again. A nickname Chat would refuse (protocol.validate_nickname) is a ValueError before
        anything is sent.
        """
        nicks = nicks or {}
        for user_id, nick in nicks.items():
            checks.nickname(user_id, nick)
        failed: list[str] = []
        for chunk in protocol.chunks(checks.user_ids(user_ids), protocol.ACCOUNTS_PER_IMPORT_MAX):
            if any(nicks.get(user_id) for user_id in chunk):
                body = {"AccountList": [{"UserID": user_id, **({"Nick": nicks[user_id]} if nicks.get(user_id) else {})}
                                        for user_id in chunk]}
            else:
                body = {"Accounts": chunk}
            failed += self._transport.call(
                protocol.MULTIACCOUNT_IMPORT,
                body,
                lambda answer: [str(user_id) for user_id in answer.get("FailAccounts") or []],
            )
        return failed

    def account_check(self, user_ids: Sequence[str]) -> list[AccountStatus]:
        """Whether each of ``user_ids`` is imported, in calls of at most ACCOUNTS_PER_CHECK_MAX."""
        statuses: list[AccountStatus] = []
        for chunk in protocol.chunks(checks.user_ids(user_ids), protocol.ACCOUNTS_PER_CHECK_MAX):
            statuses += self._transport.call(
                protocol.ACCOUNT_CHECK,
                {"CheckItem": [{"UserID": user_id} for user_id in chunk]},
                lambda answer: [AccountStatus.from_json(entry) for entry in answer.get("ResultItem") or []],
            )
        return statuses
