"""Every code of every stored outcome has its words, in English and in Chinese, and reads back from its JSON.

Each outcome enum (contactgroups.outcomes) has one table of readers in contactgroups.words, keyed by the enum; a
code added without words, or whose words the Chinese catalogue lacks, fails here. The examples are what the sync,
a pull, an account check, a drift reading, a staff action and the group form store.
"""

import json
import re
from datetime import UTC, datetime

import pytest
from django.contrib.admin.models import LogEntry
from django.utils import translation

from contactgroups import words
from contactgroups.chat import errors, protocol
from contactgroups.outcomes import (
    AccountCode,
    AccountOutcome,
    Adopted,
    ConflictCode,
    ConflictFacts,
    DriftCode,
    DriftEntry,
    DriftFacts,
    EditAction,
    EditEntry,
    ErrorKind,
    Failure,
    HeldBackReason,
    HistoryKind,
    ImportEntry,
    ImportProblem,
    ImportReason,
    NameTaken,
    NotStored,
    NotStoredReason,
    PullCode,
    PullOutcome,
    ReadBy,
    Refusal,
    SaveWarning,
    SyncCode,
    SyncOutcome,
    WarningCode,
)
from contactgroups.sync import PullReport

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
OWNER = "user_0001"
CHAT_ERROR = Failure(ErrorKind.CHAT, code=errors.ACCOUNT_NOT_IMPORTED, info="not imported")

FAILURES = {
    ErrorKind.CONNECT: Failure(ErrorKind.CONNECT),
    ErrorKind.TOO_SLOW: Failure(ErrorKind.TOO_SLOW, seconds=30),
    ErrorKind.TOO_LARGE: Failure(ErrorKind.TOO_LARGE, limit=4 * 1024 * 1024),
    ErrorKind.TRANSPORT: Failure(ErrorKind.TRANSPORT, http_status=502),
    ErrorKind.THROTTLED: Failure(ErrorKind.THROTTLED, code=errors.RATE_LIMITED),
    ErrorKind.ANSWER: Failure(ErrorKind.ANSWER, http_status=200),
    ErrorKind.CHAT: CHAT_ERROR,
    ErrorKind.BUSY: Failure(ErrorKind.BUSY),
    ErrorKind.QUEUE: Failure(ErrorKind.QUEUE, type="OperationalError"),
    ErrorKind.INTERNAL: Failure(ErrorKind.INTERNAL, type="KeyError"),
}

CONFLICTS = {
    ConflictCode.DELETED_IN_APP: ConflictFacts(ConflictCode.DELETED_IN_APP),
    ConflictCode.RENAMED_IN_APP: ConflictFacts(ConflictCode.RENAMED_IN_APP, app_name="家", staff_name="work"),
    ConflictCode.RENAMED_BEFORE_DELETE: ConflictFacts(ConflictCode.RENAMED_BEFORE_DELETE, app_name="家"),
    ConflictCode.ALREADY_GONE: ConflictFacts(ConflictCode.ALREADY_GONE),
    ConflictCode.NAME_NOT_SENDABLE: ConflictFacts(ConflictCode.NAME_NOT_SENDABLE, name="a\u0001b"),
    ConflictCode.REMADE_IN_APP: ConflictFacts(ConflictCode.REMADE_IN_APP, group_id=9, staff_changed=True),
    ConflictCode.NAME_UNSTORABLE: ConflictFacts(ConflictCode.NAME_UNSTORABLE, app_name="a\\u0000b"),
    ConflictCode.NAME_TAKEN: ConflictFacts(ConflictCode.NAME_TAKEN, name="work", group_id=9, create=False),
}

DONE = {"owner": OWNER, "group_id": 7}
SYNCS = {
    SyncCode.CREATED: SyncOutcome(SyncCode.CREATED, **DONE, added=2),
    SyncCode.SYNCED: SyncOutcome(SyncCode.SYNCED, **DONE, renamed_from="old", name="new", removed=1,
                                 refused=(Refusal(C2C, "user_9", errors.ACCOUNT_NOT_IMPORTED, ""),),
                                 adopted=Adopted("家", ((C2C, "user_3"),), ()), interrupted=True),
    SyncCode.DELETED: SyncOutcome(SyncCode.DELETED, **DONE),
    SyncCode.DELETED_IN_APP: SyncOutcome(SyncCode.DELETED_IN_APP, **DONE),
    SyncCode.STOPPED: SyncOutcome(SyncCode.STOPPED, **DONE, added=1, error=FAILURES[ErrorKind.CONNECT],
                                  retrying=True, partial=True),
    SyncCode.GAVE_UP: SyncOutcome(SyncCode.GAVE_UP, attempts=5, error=CHAT_ERROR),
    SyncCode.NOT_QUEUED: SyncOutcome(SyncCode.NOT_QUEUED, error=FAILURES[ErrorKind.QUEUE]),
    SyncCode.ALREADY_DELETED: SyncOutcome(SyncCode.ALREADY_DELETED),
}
TOO_LONG = NotStored((C2C, "u" * 40), NotStoredReason.TOO_LONG, 40, 32)
UNSTORABLE = NotStored((GROUP, "@TGS#\\u0000x"), NotStoredReason.UNSTORABLE)
PULLS = {
    PullCode.ADOPTED: PullOutcome(PullCode.ADOPTED, owner=OWNER, name="家", group_id=7, conversations=2,
                                  not_stored=(TOO_LONG,)),
    PullCode.PULLED: PullOutcome(PullCode.PULLED, owner=OWNER, name="new", renamed_from="old",
                                 added=((C2C, "user_3"),), removed=((GROUP, "@TGS#2"),), not_stored=(UNSTORABLE,)),
    PullCode.GONE: PullOutcome(PullCode.GONE, owner=OWNER, name="work"),
    PullCode.HELD_BACK: PullOutcome(PullCode.HELD_BACK, owner=OWNER, name="work", group_id=7,
                                    reason=HeldBackReason.NAME_TAKEN),
}
PROBLEMS = {
    ImportReason.REFUSED: ImportProblem(ImportReason.REFUSED),
    ImportReason.NICKNAME_TOO_LONG: ImportProblem(ImportReason.NICKNAME_TOO_LONG, size=600, max=500),
    ImportReason.ERROR: ImportProblem(ImportReason.ERROR, failure=FAILURES[ErrorKind.TRANSPORT]),
}
ACCOUNTS = {
    AccountCode.IMPORTED: AccountOutcome(AccountCode.IMPORTED),
    AccountCode.NOT_IMPORTED: AccountOutcome(AccountCode.NOT_IMPORTED, problem=PROBLEMS[ImportReason.REFUSED]),
    AccountCode.CHECK_FAILED: AccountOutcome(AccountCode.CHECK_FAILED, result_code=errors.ACCOUNT_NOT_IMPORTED),
    AccountCode.IMPORT_FAILED: AccountOutcome(AccountCode.IMPORT_FAILED, problem=PROBLEMS[ImportReason.ERROR]),
}
FACTS = DriftFacts(renamed_from="work", renamed_to="家", added=((C2C, "user_3"),), removed=((GROUP, "@TGS#2"),),
                   name_taken=NameTaken("家", 9, create=False))
DRIFTS = {
    DriftCode.FOUND: DriftEntry(DriftCode.FOUND, ReadBy.SWEEP, OWNER, FACTS),
    DriftCode.CLEARED: DriftEntry(DriftCode.CLEARED, ReadBy.PAGE),
    DriftCode.KEPT: DriftEntry(DriftCode.KEPT, None, OWNER, DriftFacts(deleted=True, kept_as="work 2")),
}
CONFIRMED = datetime(2025, 3, 1, 12, tzinfo=UTC).isoformat()
EDITS = {
    EditAction.ADDED: EditEntry(EditAction.ADDED, name="work", added=((C2C, "user_3"),)),
    EditAction.CHANGED: EditEntry(EditAction.CHANGED, name="new", renamed_from="old", removed=((C2C, "user_3"),)),
    EditAction.DELETED: EditEntry(EditAction.DELETED, name="work"),
    EditAction.SYNC: EditEntry(EditAction.SYNC, name="work"),
    EditAction.RESTORED: EditEntry(EditAction.RESTORED, name="work", version=3, confirmed_at=CONFIRMED,
                                   conversations=2, revived=True),
}
WARNINGS = {
    WarningCode.OWNER_NOT_IMPORTED: SaveWarning(WarningCode.OWNER_NOT_IMPORTED, user=OWNER, state="failed"),
    WarningCode.TARGETS_NOT_IMPORTED: SaveWarning(WarningCode.TARGETS_NOT_IMPORTED, users=("user_9", "user_8")),
    WarningCode.GROUP_ID_AS_USER: SaveWarning(WarningCode.GROUP_ID_AS_USER, targets=("@TGS#2",), known=("@TGS#2",)),
}
HISTORY = {
    HistoryKind.SYNC: SYNCS[SyncCode.CREATED].to_json(),
    HistoryKind.PULL: PULLS[PullCode.GONE].to_json(),
    HistoryKind.ACCOUNT: ACCOUNTS[AccountCode.IMPORTED].to_json(),
    HistoryKind.IMPORT: ImportEntry("groups.csv", (2, 4), 3).to_json(),
    HistoryKind.DRIFT: DRIFTS[DriftCode.CLEARED].to_json(),
    HistoryKind.EDIT: EDITS[EditAction.SYNC].to_json(),
}


def say_sync(outcome):
    return words.outcome_text(outcome.to_json())


# Each enum: its table of readers in words (None for an enum read inside another's words), its examples, and how
# an example is said.
CASES = [
    (ErrorKind, words.FAILURE_WORDS, FAILURES, words.failure_text),
    (ErrorKind, words.READ_FAILURE_WORDS, FAILURES, lambda failure: words.chat_read_failure_text(failure.to_json(), 5)),
    (ConflictCode, words.CONFLICT_WORDS, CONFLICTS, lambda conflict: words.conflict_text(conflict.to_json(), OWNER)),
    (SyncCode, words.SYNC_WORDS, SYNCS, say_sync),
    (PullCode, words.PULL_WORDS, PULLS, say_sync),
    (PullCode, words.REPORT_LINE_WORDS, PULLS,
     lambda outcome: " ".join(words.pull_report_lines(_report(outcome)))),
    (HeldBackReason, None, {reason: PullOutcome(PullCode.HELD_BACK, owner=OWNER, name="work", group_id=7,
                                                reason=reason) for reason in HeldBackReason}, say_sync),
    (NotStoredReason, None, {NotStoredReason.TOO_LONG: TOO_LONG, NotStoredReason.UNSTORABLE: UNSTORABLE},
     lambda entry: words.not_stored_text([entry.to_json()])),
    (ImportReason, words.IMPORT_PROBLEM_WORDS, PROBLEMS,
     lambda problem: words.account_text(AccountOutcome(AccountCode.NOT_IMPORTED, problem=problem).to_json())),
    (AccountCode, words.ACCOUNT_WORDS, ACCOUNTS, lambda outcome: words.account_text(outcome.to_json())),
    (DriftCode, words.DRIFT_WORDS, DRIFTS, lambda entry: words.drift_history_text(entry.to_json())),
    (ReadBy, None, {by: DriftEntry(DriftCode.FOUND, by, OWNER, FACTS) for by in ReadBy},
     lambda entry: words.drift_history_text(entry.to_json())),
    (EditAction, words.EDIT_WORDS, EDITS, lambda entry: words.edit_text(entry.to_json())),
    (WarningCode, words.WARNING_WORDS, WARNINGS, lambda warning: words.save_warning_text(warning.to_json())),
    (HistoryKind, words.HISTORY_WORDS, HISTORY, lambda data: None),  # said below, through a history entry
    (words.HandOver, words.QUEUED_WORDS, {what: what for what in words.HandOver},
     lambda what: words.queued_text(what, 2, "work", when="2025-03-01 12:00")),
    (words.HandOver, words.NOT_QUEUED_WORDS, {what: what for what in words.HandOver},
     lambda what: words.not_queued_text(what, 2, "work", "OperationalError")),
    (words.RowReason, words.REFUSAL_TITLES, {reason: reason for reason in words.RowReason}, words.refusal_title),
]


def _report(outcome: PullOutcome):
    report = PullReport(OWNER)
    {PullCode.ADOPTED: report.adopted, PullCode.PULLED: report.changed, PullCode.GONE: report.deleted,
     PullCode.HELD_BACK: report.held_back}[outcome.code].append(outcome.to_json())
    return report


def _history_entry(kind, data):
    return LogEntry(change_message=json.dumps([{str(kind): data}]))


def examples():
    """(enum member, how it is said) for every member of every outcome enum, the legacy code left out."""
    for enum, _table, samples, speak in CASES:
        for member in enum:
            if member == SyncCode.LEGACY:
                continue
            if enum is HistoryKind:
                yield member, (lambda member=member: words.history_text(_history_entry(member, HISTORY[member])))
            else:
                yield member, (lambda member=member, samples=samples, speak=speak: speak(samples[member]))


@pytest.mark.parametrize(("enum", "table"), [(enum, table) for enum, table, *_ in CASES if table is not None],
                         ids=lambda value: getattr(value, "__name__", ""))
def test_each_code_has_one_reader(enum, table):
    assert set(table) == set(enum)


@pytest.mark.parametrize(("enum", "samples"), [(enum, samples) for enum, _table, samples, _ in CASES],
                         ids=lambda value: getattr(value, "__name__", ""))
def test_each_code_has_an_example_here(enum, samples):
    """A new code fails here until it has an example, so the test below says it in both languages."""
    assert set(samples) | {SyncCode.LEGACY} >= set(enum)


CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize(("code", "speak"), list(examples()), ids=lambda value: str(value) if isinstance(value, str)
                         else "")
def test_each_code_is_said_in_english_and_in_chinese(code, speak):
    with translation.override("en"):
        english = speak()
    with translation.override("zh-hans"):
        chinese = speak()
    assert english.strip()
    assert chinese != english and CJK.search(chinese), chinese
    assert not re.search(rf"\b{re.escape(str(code))}\b", chinese), chinese
    # No code name of any kind (Python's name of an exception a sentence names is not one).
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", chinese.replace("user_", "")), chinese


def test_a_legacy_outcome_is_its_old_text_and_an_unknown_code_is_nothing():
    old = "Synced to Chat (old words)."
    assert words.outcome_text({"code": "legacy", "text": old}) == old
    assert words.outcome_text({"code": "renamed_later", "owner": OWNER}) == ""
    assert words.account_text({"code": "renamed_later"}) == ""
    assert words.drift_history_text({"code": "renamed_later"}) == ""
    assert words.save_warning_text({"code": "renamed_later"}) == ""
    assert words.conflict_text({"code": "renamed_later", "text": "An old conflict."}, OWNER) == "An old conflict."


# What the code stored before the outcomes were typed, kept in existing rows and history entries.
STORED = [
    (SyncOutcome, {"code": "created", "owner": OWNER, "group_id": 7, "added": 2}),
    (SyncOutcome, {"code": "stopped", "owner": OWNER, "group_id": None, "renamed_from": "a", "name": "b",
                   "refused": [[1, "user_9", 70107, "x"]], "adopted": {"added": [[1, "u"]]},
                   "conflicts": [{"code": "renamed_in_app", "app_name": "x", "staff_name": "y"}], "interrupted": True,
                   "error": {"kind": "too_slow", "code": None, "info": "", "http_status": None, "seconds": 30},
                   "retrying": False, "partial": True, "created": False}),
    (SyncOutcome, {"code": "gave_up", "attempts": 5,
                   "error": {"kind": "internal", "code": None, "info": "", "http_status": None, "type": "KeyError"}}),
    (SyncOutcome, {"code": "not_queued", "error": {"kind": "queue", "type": "OperationalError"}}),
    (SyncOutcome, {"code": "legacy", "text": "Old words."}),
    (PullOutcome, {"code": "adopted", "owner": OWNER, "name": "n", "group_id": 3, "conversations": 0,
                   "not_stored": [{"conversation": [1, "u"], "reason": "too_long", "bytes": 40, "max": 32}]}),
    (PullOutcome, {"code": "pulled", "name": "n", "renamed_from": "o", "added": [[2, "@TGS#1"]], "group_id": 4}),
    (PullOutcome, {"code": "held_back", "owner": OWNER, "name": "n", "group_id": 3, "reason": "name_unstorable"}),
    (AccountOutcome, {"code": "not_imported", "import": {"reason": "nickname_too_long", "size": 600, "max": 500}}),
    (AccountOutcome, {"code": "check_failed", "result_code": 70107, "info": "x", "error": {
        "reason": "error", "kind": "connect", "code": None, "info": "", "http_status": None}}),
    (DriftEntry, {"code": "drift_found", "read_by": "page", "owner": OWNER, "remade": 9, "renamed_from": "a",
                  "renamed_to": "b", "name_taken": {"name": "b", "group_id": 2, "create": True}}),
    (DriftEntry, {"code": "drift_cleared", "read_by": "sweep"}),
    (EditEntry, {"action": "restored", "version": 3, "confirmed_at": CONFIRMED, "name": "n", "conversations": 2,
                 "revived": True, "removed": [[1, "u"]]}),
    (SaveWarning, {"code": "group_id_as_user", "targets": ["@TGS#2"], "known": []}),
]


@pytest.mark.parametrize(("kind", "data"), STORED, ids=lambda value: getattr(value, "__name__", ""))
def test_stored_outcomes_read_and_write_as_they_were_stored(kind, data):
    assert kind.from_json(data).to_json() == data
