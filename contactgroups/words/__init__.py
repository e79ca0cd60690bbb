"""Stored outcomes and history entries made into sentences, in the reader's language, when they are shown.

The sync, pull and account code store what happened as typed data (contactgroups.outcomes); the admin pages and
the management commands call these functions to say it. Each code of each outcome has one reader, in a table
keyed by its enum (``SYNC_WORDS``, ``PULL_WORDS``, ...): one module a subject. Rows written before outcomes were
data hold their old text under the ``legacy`` code and are shown as they are.
"""

from contactgroups.outcomes import SyncCode
from contactgroups.words.audit import audit_pruned_text
from contactgroups.words.chat import (
    FAILURE_WORDS,
    OPERATION_WORDS,
    READ_FAILURE_WORDS,
    chat_read_failure_text,
    code_number,
    code_text,
    conversation_text,
    error_text,
    failure_text,
    lazy_format,
    listed,
    meaning,
    operation_text,
    say,
    too_large_text,
    too_slow_text,
)
from contactgroups.words.drift import DRIFT_WORDS, drift_history_text, drift_lines
from contactgroups.words.handover import NOT_QUEUED_WORDS, QUEUED_WORDS, HandOver, not_queued_text, queued_text
from contactgroups.words.history import (
    ACCOUNT_WORDS,
    EDIT_WORDS,
    HISTORY_WORDS,
    IMPORT_PROBLEM_WORDS,
    account_text,
    edit_changes_text,
    edit_text,
    history_text,
    import_text,
    moment_text,
)
from contactgroups.words.pull import (
    PULL_WORDS,
    REPORT_LINE_WORDS,
    held_back_text,
    not_stored_text,
    pull_changes_text,
    pull_report_lines,
)
from contactgroups.words.runs import (
    group_sync_line,
    group_sync_why,
    handing_text,
    run_summary_text,
    workers_stalled_text,
)
from contactgroups.words.sync import (
    BLANK_MARK,
    CONFLICT_WORDS,
    SYNC_WORDS,
    conflict_text,
    conflicts_text,
    kept_name_help,
    name_text,
    outcome_text,
    sync_state_text,
)
from contactgroups.words.warnings import WARNING_WORDS, save_warning_text

LEGACY = SyncCode.LEGACY

__all__ = [
    "ACCOUNT_WORDS", "BLANK_MARK", "CONFLICT_WORDS", "DRIFT_WORDS", "EDIT_WORDS", "FAILURE_WORDS", "HISTORY_WORDS",
    "HandOver", "IMPORT_PROBLEM_WORDS", "LEGACY", "NOT_QUEUED_WORDS", "OPERATION_WORDS", "PULL_WORDS", "QUEUED_WORDS",
    "READ_FAILURE_WORDS", "REPORT_LINE_WORDS", "SYNC_WORDS", "WARNING_WORDS", "account_text", "audit_pruned_text",
    "chat_read_failure_text", "code_number", "code_text", "conflict_text", "conflicts_text", "conversation_text",
    "drift_history_text", "drift_lines", "edit_changes_text", "edit_text", "error_text", "failure_text",
    "group_sync_line", "group_sync_why", "handing_text", "run_summary_text", "workers_stalled_text",
    "held_back_text", "history_text", "import_text", "kept_name_help", "lazy_format", "listed", "meaning",
    "moment_text", "name_text", "not_queued_text", "not_stored_text", "operation_text", "outcome_text",
    "pull_changes_text", "pull_report_lines", "queued_text", "save_warning_text", "say", "sync_state_text",
    "too_large_text", "too_slow_text",
]
