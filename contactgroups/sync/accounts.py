"""Accounts: import Chat users (multiaccount_import) and ask Chat which exist (account_check), keeping its answer."""

import logging
from dataclasses import dataclass, field

from django.utils import timezone

from contactgroups.chat import errors, protocol
from contactgroups.conf import chat_client
from contactgroups.models import ChatUser
from contactgroups.outcomes import AccountCode, AccountOutcome, ImportProblem, ImportReason
from contactgroups.sync.audit import AuditRecorder, log_history
from contactgroups.sync.outcome import failure

IMPORTED = AccountCode.IMPORTED
NOT_IMPORTED = AccountCode.NOT_IMPORTED
CHECK_FAILED = AccountCode.CHECK_FAILED
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
    with chat_client(on_call=recorder) as client:
        for batch in protocol.chunks(sendable, protocol.ACCOUNTS_PER_IMPORT_MAX):
            try:
                nicks = {user.user_id: user.nickname for user in batch if user.nickname}
                for user_id in client.multiaccount_import([user.user_id for user in batch], nicks):
                    refused[user_id] = ImportProblem(REFUSED_BY_CHAT)
            except errors.ChatError as exc:
                for user in batch:
                    refused[user.user_id] = ImportProblem(ImportReason.ERROR, failure=failure(exc))
    return check_users([user.pk for user in users], actor_id, refused=refused, imported_at=now)


def accounts_job(user_pks, actor_id: int | None, check_only: bool = False, attempt: int = 0) -> None:
    """Import the users (or only check them) outside any request; what Chat said is kept on each user, so nothing
    is retried and nothing is returned. A failure that is not Chat's answer (a bug, a broken setting) is logged."""
    try:
        (check_users if check_only else import_users)(user_pks, actor_id)
    except Exception:
        logger.exception("The %s of Chat users %s failed unexpectedly", "check" if check_only else "import",
                         list(user_pks))


def check_users(user_pks, actor_id: int | None, refused: dict[str, ImportProblem] | None = None,
                imported_at=None) -> AccountReport:
    """Ask Chat which of the users exist (account_check, 100 a call) and store the answer on each."""
    users = list(ChatUser.objects.filter(pk__in=user_pks).order_by("user_id"))
    refused = refused or {}
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
                    data = AccountOutcome(CHECK_FAILED, result_code=user.last_error_code, info=user.last_error_info,
                                          problem=why if status is None else None)
                user.save(update_fields=["import_state", "imported_at", "checked_at", "last_error_code",
                                         "last_error_info", "updated_at"])
                log_history(actor_id, user, [{"account": data.to_json()}])
                report.outcomes[user.user_id] = data.to_json()
    return report
