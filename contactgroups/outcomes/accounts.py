"""What Chat said of one user when it was imported or checked (``sync.accounts``), as its history keeps it."""

from dataclasses import dataclass
from enum import StrEnum

from contactgroups.outcomes._json import member
from contactgroups.outcomes.failure import Failure


class AccountCode(StrEnum):
    IMPORTED = "imported"
    NOT_IMPORTED = "not_imported"  # Chat answered that it does not have the user (``problem``: why, if known)
    CHECK_FAILED = "check_failed"  # Chat could not say (``result_code``, ``info``; ``problem``: the call's failure)
    # An import whose call failed, and the check after it could not say either (``problem``: the import's failure)
    IMPORT_FAILED = "import_failed"


class ImportReason(StrEnum):
    """Why an import left a user out."""

    REFUSED = "refused"  # Chat listed it in FailAccounts
    NICKNAME_TOO_LONG = "nickname_too_long"  # longer than Chat keeps (``size``, ``max``, in bytes): not sent
    ERROR = "error"  # the whole call failed (``failure``)


@dataclass(frozen=True)
class ImportProblem:
    reason: ImportReason
    size: int = 0
    max: int = 0
    failure: Failure | None = None

    @classmethod
    def from_json(cls, data: dict) -> "ImportProblem":
        """Entries written before the reason was kept are a failed call's: Chat's error."""
        reason = member(ImportReason, data.get("reason")) or ImportReason.ERROR
        if reason == ImportReason.ERROR:
            return cls(reason, failure=Failure.from_json({k: v for k, v in data.items() if k != "reason"}))
        return cls(reason, data.get("size", 0), data.get("max", 0))

    def to_json(self) -> dict:
        if self.reason == ImportReason.NICKNAME_TOO_LONG:
            return {"reason": str(self.reason), "size": self.size, "max": self.max}
        if self.reason == ImportReason.ERROR:
            return {"reason": str(self.reason), **(self.failure.to_json() if self.failure else {})}
        return {"reason": str(self.reason)}

    @property
    def code(self) -> int | None:
        """Chat's ErrorCode of a failed call."""
        return self.failure.code if self.failure else None

    @property
    def info(self) -> str:
        return self.failure.info if self.failure else ""


@dataclass(frozen=True)
class AccountOutcome:
    code: AccountCode
    problem: ImportProblem | None = None
    result_code: int | None = None
    info: str = ""

    @classmethod
    def from_json(cls, data: dict) -> "AccountOutcome | None":
        code = member(AccountCode, data.get("code"))
        if code is None:
            return None
        problem = data.get("import") if code == AccountCode.NOT_IMPORTED else data.get("error")
        return cls(code, ImportProblem.from_json(problem) if problem else None, data.get("result_code"),
                   data.get("info") or "")

    def to_json(self) -> dict:
        data: dict = {"code": str(self.code)}
        if self.code == AccountCode.NOT_IMPORTED and self.problem:
            data["import"] = self.problem.to_json()
        elif self.code in (AccountCode.CHECK_FAILED, AccountCode.IMPORT_FAILED):
            data.update(result_code=self.result_code, info=self.info)
            if self.problem:
                data["error"] = self.problem.to_json()
        return data
