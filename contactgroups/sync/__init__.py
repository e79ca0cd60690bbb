"""Sync: bring Chat to the mirror's state and the mirror to Chat's, keeping what Chat answered.

``plan`` decides (pure); ``execute`` sends a plan for one group and stores the answers; ``lease`` keeps two
syncs of one group apart; ``audit`` records every Chat call and history entry; ``outcome`` is what a sync did, as
data; ``pull`` and ``accounts`` read Chat into the mirror; ``drift`` reads it to find what users changed in the
app; ``runner`` runs syncs and pulls in the background of a web process that has no broker. Callers use the names
below.
"""

from contactgroups.sync import drift
from contactgroups.sync.accounts import AccountReport, accounts_job, check_users, import_users
from contactgroups.sync.audit import log_history, log_staff_action, log_staff_actions, record_staff_action
from contactgroups.sync.execute import (
    SyncResult,
    attempt_sync,
    give_up,
    is_retryable,
    log_unexpected,
    not_queued,
    retry_delay,
    sync_group,
    sync_with_retries,
)
from contactgroups.sync.lease import SyncBusy
from contactgroups.sync.pull import PullReport, pull_group, pull_owner

__all__ = [
    "AccountReport", "PullReport", "SyncBusy", "SyncResult", "accounts_job", "attempt_sync", "check_users", "drift",
    "give_up", "import_users", "is_retryable", "log_history", "log_staff_action", "log_staff_actions", "log_unexpected",
    "not_queued", "pull_group", "pull_owner", "record_staff_action", "retry_delay",
    "sync_group", "sync_with_retries",
]
