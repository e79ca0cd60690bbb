"""Accounts: import Chat users (multiaccount_import) and ask Chat which exist (account_check), keeping its answer.

What Chat said of each user is kept on it as data (``ChatUser.last_outcome``, an ``outcomes.AccountOutcome``). A
user neither call could answer for, for a reason that may pass (Chat could not be reached, was too slow, asked for
fewer calls), is tried again by the syncs' one retry rule (``retries.wait_after``): its attempts and next try are
written on it (``attempts``, ``retry_at``), and ``accounts_job`` says when to run again.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from contactgroups.chat import errors, protocol
from contactgroups.conf import chat_client
from contactgroups.models import ChatUser
from contactgroups.outcomes import AccountCode, AccountOutcome, ImportProblem, ImportReason
from contactgroups.sync import retries
from contactgroups.sync.audit import AuditRecorder, log_history
from contactgroups.sync.outcome import failure
from contactgroups.sync.store import is_retryable

IMPORTED = AccountCode.IMPORTED
NOT_IMPORTED = AccountCode.NOT_IMPORTED
CHECK_FAILED = AccountCode.CHECK_FAILED
IMPORT_FAILED = AccountCode.IMPORT_FAILED
# Why an import left a user out: Chat listed it in FailAccounts, or the whole call failed (with its error), or the
# nickname is longer than Chat keeps, so the user was not sent (with its size and Chat's maximum, in bytes).
REFUSED_BY_CHAT = ImportReason.REFUSED
NICKNAME_TOO_LONG = ImportReason.NICKNAME_TOO_LONG

logger = logging.getLogger(__name__)


@dataclass
class AccountReport:
    imported: list[str] = field(default_factory=list)
    not_imported: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    # The pks of the users left unanswered by a failure that may pass: tried again (``accounts_job``).
    retry: list[int] = field(default_factory=list)
    # What Chat said of each user, as the history keeps it (words.account_text says it).
    outcomes: dict[str, dict] = field(default_factory=dict)


def import_users(user_pks, actor_id: int | None) -> AccountReport:
    """Import the users into Chat (multiaccount_import, 100 a call, each with its nickname), then confirm with
    account_check. A user whose nickname Chat would refuse is not sent; the check says why."""
    users = list(ChatUser.objects.filter(pk__in=user_pks).order_by("user_id"))
    recorder = AuditRecorder(actor_id, "")
    now = timezone.now()
    refused: dict[str, ImportProblem] = {}
    for user in users:
        if protocol.validate_nickname(user.nickname):
            refused[user.user_id] = ImportProblem(NICKNAME_TOO_LONG, size=protocol.utf8_length(user.nickname),
                                                  max=protocol.PROFILE_VALUE_MAX_BYTES)
    sendable = [user for user in users if user.user_id not in refused]
    passing: set[str] = set()
    with chat_client(on_call=recorder) as client:
        for batch in protocol.chunks(sendable, protocol.ACCOUNTS_PER_IMPORT_MAX):
            try:
                nicks = {user.user_id: user.nickname for user in batch if user.nickname}
                for user_id in client.multiaccount_import([user.user_id for user in batch], nicks):
                    refused[user_id] = ImportProblem(REFUSED_BY_CHAT)
            except errors.ChatError as exc:
                for user in batch:
                    refused[user.user_id] = ImportProblem(ImportReason.ERROR, failure=failure(exc))
                    if is_retryable(exc):
                        passing.add(user.user_id)
    return check_users([user.pk for user in users], actor_id, refused=refused, imported_at=now, passing=passing)


def accounts_job(user_pks, actor_id: int | None, check_only: bool = False, attempt: int = 0) -> float | None:
    """Attempt number ``attempt`` (0-based) of importing the users (or only checking them) outside any request;
    what Chat said is kept on each user. The seconds to wait before the next attempt, for the users a failure that
    may pass left unanswered, or None. A retry takes only the users still waiting for that attempt (staff may have
    imported them since). A failure that is not Chat's answer (a bug, a broken setting) is logged."""
    if attempt:
        user_pks = list(ChatUser.objects.filter(pk__in=user_pks, attempts=attempt, retry_at__isnull=False)
                        .values_list("pk", flat=True))
        if not user_pks:
            return None
    try:
        report = (check_users if check_only else import_users)(user_pks, actor_id)
    except Exception:
        logger.exception("The %s of Chat users %s failed unexpectedly", "check" if check_only else "import",
                         list(user_pks))
        return None
    if not report.retry:
        return None
    delay = retries.wait_after(attempt)
    retry_at = None if delay is None else retries.clock() + timedelta(seconds=delay)
    # After the last attempt the count stays, with no next try: the user's page says it gave up.
    ChatUser.objects.filter(pk__in=report.retry).update(attempts=attempt + 1, retry_at=retry_at)
    return delay


def check_users(user_pks, actor_id: int | None, refused: dict[str, ImportProblem] | None = None,
                imported_at=None, passing: set[str] = frozenset()) -> AccountReport:
    """Ask Chat which of the users exist (account_check, 100 a call) and store the answer on each (its retries
    cleared: ``accounts_job`` writes them again for the users in ``report.retry``). ``passing``: the users whose
    import failed in a way that may pass."""
    users = list(ChatUser.objects.filter(pk__in=user_pks).order_by("user_id"))
    refused = refused or {}
    passing = set(passing)
    report = AccountReport()
    recorder = AuditRecorder(actor_id, "")
    now = timezone.now()
    with chat_client(on_call=recorder) as client:
        for batch in protocol.chunks(users, protocol.ACCOUNTS_PER_CHECK_MAX):
            try:
                answers = {status.user_id: status for status in client.account_check([u.user_id for u in batch])}
            except errors.ChatError as exc:
                answers = {}
                for user in batch:
                    refused.setdefault(user.user_id, ImportProblem(ImportReason.ERROR, failure=failure(exc)))
                    if is_retryable(exc):
                        passing.add(user.user_id)
            for user in batch:
                status = answers.get(user.user_id)
                why = refused.get(user.user_id)
                user.checked_at = now
                if status is not None and status.imported:
                    user.import_state = ChatUser.ImportState.IMPORTED
                    if imported_at and user.imported_at is None:
                        user.imported_at = imported_at
                    user.last_error_code, user.last_error_info = None, ""
                    report.imported.append(user.user_id)
                    data = AccountOutcome(IMPORTED)
                elif status is not None and status.result_code == errors.OK:
                    user.import_state = ChatUser.ImportState.FAILED if why else ChatUser.ImportState.NOT_IMPORTED
                    user.last_error_code = why.code if why else None
                    user.last_error_info = why.info if why else ""
                    report.not_imported.append(user.user_id)
                    data = AccountOutcome(NOT_IMPORTED, problem=why)
                else:
                    user.import_state = ChatUser.ImportState.FAILED
                    user.last_error_code = status.result_code if status else (why.code if why else None)
                    user.last_error_info = (status.result_info if status else "") or (why.info if why else "")
                    report.failed.append(user.user_id)
                    # Neither call answered for the user: an import's own failure says why it is not imported.
                    code = IMPORT_FAILED if status is None and imported_at and why else CHECK_FAILED
                    data = AccountOutcome(code, result_code=user.last_error_code, info=user.last_error_info,
                                          problem=why if status is None else None)
                    if status is None and user.user_id in passing:
                        report.retry.append(user.pk)
                user.last_outcome = data.to_json()
                user.attempts, user.retry_at = 0, None
                user.save(update_fields=["import_state", "imported_at", "checked_at", "last_error_code",
                                         "last_error_info", "last_outcome", "attempts", "retry_at", "updated_at"])
                log_history(actor_id, user, [{"account": data.to_json()}])
                report.outcomes[user.user_id] = data.to_json()
    return report
