"""Sync: bring Chat to the mirror's state and the mirror to Chat's, keeping what Chat answered.

``plan`` decides (pure); ``pipeline`` is a sync's named steps (claim, read Chat, plan, send) for one group or a
batch, and ``store`` keeps what Chat answered; ``retries`` is the rule every caller retries by; ``lease`` keeps two
syncs of one group apart; ``reach`` notes whether Chat answers; ``audit`` records every Chat call and history
entry; ``outcome`` is what a sync did, as data; ``pull`` and ``accounts`` read Chat into the mirror; ``drift`` reads
it to find what users changed in the app. What runs them in the background is ``contactgroups.tasks``. Callers use
the names below.
"""

from contactgroups.sync import drift
from contactgroups.sync.accounts import AccountReport, accounts_job, check_users, import_users
from contactgroups.sync.audit import log_history, log_staff_action, log_staff_actions, record_staff_action
from contactgroups.sync.lease import SyncBusy
from contactgroups.sync.pipeline import sync_batch, sync_group
from contactgroups.sync.pull import PullReport, pull_group, pull_owner
from contactgroups.sync.retries import (
    after_failure,
    answered_since_unreached,
    attempt_sync,
    due_again,
    give_up,
    log_unexpected,
    not_queued,
    retry_delay,
    retry_now,
    schedule,
    sync_with_retries,
    waits,
)
from contactgroups.sync.store import SyncResult, is_retryable

__all__ = [
    "AccountReport", "PullReport", "SyncBusy", "SyncResult", "accounts_job", "after_failure",
    "answered_since_unreached", "attempt_sync",
    "check_users", "drift", "due_again", "give_up", "import_users", "is_retryable", "log_history", "log_staff_action",
    "log_staff_actions", "log_unexpected", "not_queued", "pull_group", "pull_owner", "record_staff_action",
    "retry_delay", "retry_now", "schedule", "sync_batch", "sync_group", "sync_with_retries", "waits",
]
