"""The audit of Chat calls: one row per HTTP attempt, and the codes each refused conversations with."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contactgroups import words
from contactgroups.chat import protocol
from contactgroups.conf import app_settings
from contactgroups.models.fields import StorableJSONField
from contactgroups.models.mirror import ContactGroup


@dataclass(frozen=True)
class Retention:
    """Which calls the audit no longer keeps: the drift sweep's reads (``sweep_actor``, the pk of its account, or
    None when it never ran) started before ``sweep_before``; every other call started before ``before``."""

    before: object
    sweep_before: object
    sweep_actor: int | None

    @classmethod
    def now(cls) -> "Retention":
        """The retention the settings say, from now (AUDIT_KEEP_DAYS, AUDIT_KEEP_SWEEP_DAYS)."""
        now = timezone.now()
        return cls(now - timedelta(days=app_settings.AUDIT_KEEP_DAYS),
                   now - timedelta(days=app_settings.AUDIT_KEEP_SWEEP_DAYS), sweep_account())


def sweep_account() -> int | None:
    """The pk of the account the drift sweep's calls are recorded under (SYNC_DRIFT_SWEEP_USER), or None before the
    first sweep made it."""
    User = get_user_model()
    return User._default_manager.filter(
        **{User.USERNAME_FIELD: app_settings.SYNC_DRIFT_SWEEP_USER}).values_list("pk", flat=True).first()


class SyncAttemptQuerySet(models.QuerySet):
    def past_sweep_retention(self, retention: Retention):
        """The drift sweep's reads older than the audit keeps them."""
        if retention.sweep_actor is None:
            return self.none()
        return self.filter(actor_id=retention.sweep_actor, started_at__lt=retention.sweep_before)

    def past_retention(self, retention: Retention):
        """Every other call older than the audit keeps it (a staff action's, a command's, a page's read)."""
        older = self.filter(started_at__lt=retention.before)
        if retention.sweep_actor is None:
            return older
        # A call with no actor is kept as long as a staff action's (exclude() keeps NULLs): nothing says the sweep
        # made it.
        return older.exclude(actor_id=retention.sweep_actor)

    def expired(self, retention: Retention) -> tuple[int, int]:
        """How many of the sweep's reads and of the other calls the audit no longer keeps."""
        return self.past_sweep_retention(retention).count(), self.past_retention(retention).count()

    def prune(self, retention: Retention, batch: int) -> tuple[int, int]:
        """Delete what the audit no longer keeps, ``batch`` calls a statement; how many of the sweep's reads and
        of the other calls were deleted."""
        return (sum(self.past_sweep_retention(retention).delete_in_batches(batch)),
                sum(self.past_retention(retention).delete_in_batches(batch)))

    def delete_in_batches(self, batch: int) -> Iterator[int]:
        """Delete these calls, oldest first, ``batch`` a transaction, yielding how many each deleted: the table is
        never locked for longer than one batch takes, and a run stopped half-way has deleted whole batches.

        Each batch is the next ``batch`` calls in (started_at, id) order after the last one deleted, read from an
        index in that order (``Meta.indexes``): no batch walks again past what the batches before it deleted
        (on PostgreSQL their index entries stay until VACUUM), so each takes as long as the first.
        """
        calls, refusals = SyncAttempt._meta.db_table, SyncAttemptRefusal._meta.db_table
        after = None
        while True:
            with transaction.atomic(using=self.db), connections[self.db].cursor() as cursor:
                rest = self
                if after is not None:
                    started, pk = after
                    rest = rest.filter(models.Q(started_at__gt=started) | models.Q(pk__gt=pk), started_at__gte=started)
                rows = list(rest.order_by("started_at", "pk").values_list("started_at", "pk")[:batch])
                if not rows:
                    return
                pks = [pk for _started, pk in rows]
                # Two plain DELETEs by primary key: Django's delete() would first read every column of the calls
                # (their request and answer bodies) to collect what cascades from them.
                marks = ", ".join(["%s"] * len(pks))
                cursor.execute(f"DELETE FROM {refusals} WHERE attempt_id IN ({marks})", pks)
                cursor.execute(f"DELETE FROM {calls} WHERE id IN ({marks})", pks)
                deleted = cursor.rowcount
            after = rows[-1]
            yield deleted


class SyncAttempt(models.Model):
    """One call to Chat, kept for audit: who caused it, what was sent, what Chat answered.

    Written as soon as the call returns, outside any transaction of the sync, so it
    survives whatever happens to the sync afterwards. Never holds the UserSig, which
    travels in the query string and is not stored. Survives the deletion of its group.
    """

    class Outcome(models.TextChoices):
        OK = "ok", _("Accepted")
        PARTIAL = "partial", _("Partly refused")
        REFUSED = "refused", _("Refused")
        NO_ANSWER = "no_answer", _("No answer")
        NOT_SENT = "not_sent", _("Not sent")
        TOO_SLOW = "too_slow", _("Too slow")
        TOO_LARGE = "too_large", _("Answer too large")
        UNREADABLE = "unreadable", _("Answer not readable")

    group = models.ForeignKey(
        ContactGroup, on_delete=models.SET_NULL, null=True, blank=True, related_name="sync_attempts",
        verbose_name=_("group"), db_index=False,  # syncattempt_group_started begins with it
    )
    owner_user_id = models.CharField(_("owner"), max_length=protocol.USER_ID_MAX_BYTES, blank=True)
    group_name = models.CharField(_("group name"), max_length=protocol.GROUP_NAME_MAX_BYTES, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("staff user"), db_index=False,  # syncattempt_actor_started begins with it
    )
    operation = models.CharField(_("operation"), max_length=64)
    request = StorableJSONField(_("request body"))
    response = StorableJSONField(_("response body"), null=True, blank=True)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    action_status = models.CharField(_("ActionStatus"), max_length=protocol.ACTION_STATUS_MAX_CHARS, blank=True)
    error_code = models.IntegerField(_("ErrorCode"), null=True, blank=True)
    error_info = models.TextField(_("ErrorInfo"), blank=True)
    refused_items = models.PositiveIntegerField(_("refused conversations"), default=0)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    started_at = models.DateTimeField(_("started"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    # A read of Chat made while a staff page waited (the group page's comparison, the picker's list): the list of
    # calls hides these unless its filter asks for them.
    page_read = models.BooleanField(_("page read"), default=False, editable=False)

    objects = SyncAttemptQuerySet.as_manager()

    class Meta:
        verbose_name = _("Chat call")
        verbose_name_plural = _("Chat calls")
        ordering = ["-started_at", "-id"]
        # Each column the list filters or searches by, followed by the list's order (started_at, id): a filtered
        # page is the first rows of one index read in order, and its count stops at a cap (admin/audit.py), at
        # any size. One actor's calls in time order also give the pruning of the sweep's reads: a batch the oldest
        # in index order, never walking past the calls kept longer nor sorting the rest.
        indexes = [
            models.Index(fields=["started_at", "id"], name="syncattempt_started"),
            # The list as it opens (the page's reads hidden), its deep pages read from the index alone (the flag is
            # in it too, so that SQLite needs no row to test it).
            models.Index(fields=["started_at", "id", "page_read"], name="syncattempt_shown_started",
                         condition=models.Q(page_read=False)),
            models.Index(fields=["group", "-started_at"], name="syncattempt_group_started"),
            models.Index(fields=["actor", "started_at", "id"], name="syncattempt_actor_started"),
            models.Index(fields=["operation", "started_at", "id"], name="syncattempt_operation_started"),
            models.Index(fields=["outcome", "started_at", "id"], name="syncattempt_outcome_started"),
            models.Index(fields=["error_code", "started_at", "id"], name="syncattempt_code_started"),
            models.Index(fields=["owner_user_id", "started_at", "id"], name="syncattempt_owner_started"),
        ]

    def __str__(self):
        return words.call_title(self.operation, f"{self.started_at:%Y-%m-%d %H:%M:%S}", self.get_outcome_display())

    @property
    def error_meaning(self) -> str:
        if self.error_code is None:
            return ""
        return words.meaning(self.error_code)


class SyncAttemptRefusal(models.Model):
    """A code a Chat call refused one or more of its conversations with: one row per call and distinct code.

    Written with its SyncAttempt, and only for calls that refused something, so that the ErrorCode filter finds
    the calls that refused an item with a code through an index on (code, attempt), on any database.
    """

    attempt = models.ForeignKey(
        SyncAttempt, on_delete=models.CASCADE, related_name="refusals", db_index=False, verbose_name=_("Chat call"),
    )
    code = models.IntegerField(_("ResultCode"))

    class Meta:
        verbose_name = _("refusal code of a Chat call")
        verbose_name_plural = _("refusal codes of Chat calls")
        ordering = ["attempt", "code"]
        constraints = [models.UniqueConstraint(fields=["attempt", "code"], name="syncattemptrefusal_attempt_code")]
        indexes = [models.Index(fields=["code", "attempt"], name="syncattemptrefusal_code")]

    def __str__(self):
        return f"{self.attempt_id}: {self.code}"
