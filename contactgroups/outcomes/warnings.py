"""What Chat would likely refuse in a group as staff are about to save it (``forms.save_warnings``), as data."""

from dataclasses import dataclass
from enum import StrEnum

from contactgroups.outcomes._json import member


class WarningCode(StrEnum):
    OWNER_NOT_IMPORTED = "owner_not_imported"  # the owner (``user``, its import ``state``) is not imported
    TARGETS_NOT_IMPORTED = "targets_not_imported"  # one-to-one targets (``users``) not imported
    # One-to-one targets (``targets``) that look like group ids, ``known`` those a group conversation here has.
    GROUP_ID_AS_USER = "group_id_as_user"


@dataclass(frozen=True)
class SaveWarning:
    code: WarningCode
    user: str = ""
    state: str = ""
    users: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    known: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: dict) -> "SaveWarning | None":
        code = member(WarningCode, data.get("code"))
        if code is None:
            return None
        return cls(code, data.get("user", ""), data.get("state", ""), tuple(data.get("users", ())),
                   tuple(data.get("targets", ())), tuple(data.get("known", ())))

    def to_json(self) -> dict:
        if self.code == WarningCode.OWNER_NOT_IMPORTED:
            return {"code": str(self.code), "user": self.user, "state": self.state}
        if self.code == WarningCode.TARGETS_NOT_IMPORTED:
            return {"code": str(self.code), "users": list(self.users)}
        return {"code": str(self.code), "targets": list(self.targets), "known": list(self.known)}
