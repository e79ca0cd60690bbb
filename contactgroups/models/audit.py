"""The audit of Chat calls: one row per HTTP attempt, and the codes each refused conversations with."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from contactgroups import words
from contactgroups.chat import protocol
from contactgroups.models.fields import StorableJSONField
from contactgroups.models.mirror import ContactGroup


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
        TOO_SLOW = "too_slow", _("Too slow")
        TOO_LARGE = "too_large", _("Answer too large")
        UNREADABLE = "unreadable", _("Answer not readable")

    group = models.ForeignKey(
        ContactGroup, on_delete=models.SET_NULL, null=True, blank=True, related_name="sync_attempts",
        verbose_name=_("group"),
    )
    owner_user_id = models.CharField(_("owner"), max_length=protocol.USER_ID_MAX_BYTES, blank=True, db_index=True)
    group_name = models.CharField(_("group name"), max_length=protocol.GROUP_NAME_MAX_BYTES, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("staff user"),
    )
    operation = models.CharField(_("operation"), max_length=64, db_index=True)
    request = StorableJSONField(_("request body"))
    response = StorableJSONField(_("response body"), null=True, blank=True)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    action_status = models.CharField(_("ActionStatus"), max_length=protocol.ACTION_STATUS_MAX_CHARS, blank=True)
    error_code = models.IntegerField(_("ErrorCode"), null=True, blank=True, db_index=True)
    error_info = models.TextField(_("ErrorInfo"), blank=True)
    refused_items = models.PositiveIntegerField(_("refused conversations"), default=0)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, db_index=True)
    started_at = models.DateTimeField(_("started"), db_index=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))

    class Meta:
        verbose_name = _("Chat call")
        verbose_name_plural = _("Chat calls")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["group", "-started_at"], name="syncattempt_group_started")]

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
