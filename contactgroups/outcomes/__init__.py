"""What the sync, a pull, an account import, a drift reading and a staff action stored, as typed values.

Each kind of outcome is a small frozen dataclass whose ``code`` is one of a closed set (an ``enum.StrEnum``), read
from the JSON a model's column or a history entry holds (``from_json``) and written back as the same JSON
(``to_json``), as Django keeps ``LogEntry``'s change message. Stored rows written before a code existed read as
they always have: a ``legacy`` outcome keeps its old text; an unknown code reads as nothing (``None``).
contactgroups.words makes the sentences. Plain Python: it imports nothing of the app and not Django.
"""

from contactgroups.outcomes.accounts import AccountCode, AccountOutcome, ImportProblem, ImportReason
from contactgroups.outcomes.drift import DriftCode, DriftEntry, DriftFacts, NameTaken, ReadBy
from contactgroups.outcomes.failure import ErrorKind, Failure
from contactgroups.outcomes.group import (
    Adopted,
    ConflictCode,
    ConflictFacts,
    HeldBackReason,
    NotStored,
    NotStoredReason,
    PullCode,
    PullOutcome,
    Refusal,
    SyncCode,
    SyncOutcome,
    group_outcome,
)
from contactgroups.outcomes.history import EditAction, EditEntry, HistoryKind, ImportEntry
from contactgroups.outcomes.warnings import SaveWarning, WarningCode

__all__ = [
    "AccountCode", "AccountOutcome", "Adopted", "ConflictCode", "ConflictFacts", "DriftCode", "DriftEntry",
    "DriftFacts", "EditAction", "EditEntry", "ErrorKind", "Failure", "HeldBackReason", "HistoryKind",
    "ImportEntry", "ImportProblem", "ImportReason", "NameTaken", "NotStored", "NotStoredReason", "PullCode",
    "PullOutcome", "ReadBy", "Refusal", "SaveWarning", "SyncCode", "SyncOutcome", "WarningCode", "group_outcome",
]
