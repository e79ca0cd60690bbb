"""What Chat confirmed of each group and the sync's own data (GroupSync): one row per group that only the sync writes.

``ContactGroup`` says what staff want; its ``sync`` row says what Chat last confirmed (GroupId, the confirmed name
and conversations, the create intent), the last outcome and conflicts, the live progress, the drift reading and the
lease. The store, a pull, the lease, the drift sweep and an adoption write it by name (``QuerySet.update``,
``save(update_fields=...)``); no save of the group touches it, so a group loaded before a sync ran and saved after
it cannot write back what Chat confirmed before. The row is made with its group (``ContactGroup.save`` on insert;
a ``bulk_create`` of groups makes theirs with ``GroupSync.for_groups``).
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from contactgroups import words
from contactgroups.chat import protocol
from contactgroups.models.fields import StorableJSONField
from contactgroups.models.mirror import ContactGroup
from contactgroups.models.users import ChatUser
from contactgroups.outcomes import PullOutcome, SyncOutcome, group_outcome


class GroupSync(models.Model):
    """What Chat last confirmed of one group, and its sync's outcome, progress, drift reading and lease.

    ``owner`` is the group's, copied when the row is made (a group's owner does not change once it exists; a save
    that changes it copies it again), so that Chat's GroupId is unique per owner here, as in Chat. ``deleted`` is set
    with the group's state when Chat confirms the group deleted (and cleared when staff restore it): a deleted
    group keeps showing the GroupId it had, and another group of the owner may take that GroupId.
    """

    group = models.OneToOneField(ContactGroup, on_delete=models.CASCADE, primary_key=True, related_name="sync",
                                 verbose_name=_("group"))
    owner = models.ForeignKey(ChatUser, on_delete=models.PROTECT, related_name="+", verbose_name=_("owner"))
    chat_group_id = models.PositiveBigIntegerField(_("GroupId"), null=True, blank=True, editable=False)
    confirmed_name = models.CharField(
        _("name in Chat"), max_length=protocol.GROUP_NAME_MAX_BYTES, blank=True, editable=False,
        help_text=_("The name Chat last confirmed; requests address the group by it."),
    )
    confirmed_conversations = StorableJSONField(
        _("conversations in Chat"), default=list, blank=True, editable=False,
        help_text=_("The [type, target] pairs Chat last confirmed in this group."),
    )
    create_intent = models.CharField(
        _("create sent as"), max_length=protocol.GROUP_NAME_MAX_BYTES, blank=True, editable=False,
        help_text=_("Written before a create is sent, with the name it sends; cleared once Chat's answer is kept."),
    )
    deleted = models.BooleanField(default=False, editable=False)
    last_error_code = models.IntegerField(_("last error code"), null=True, blank=True, editable=False)
    last_error_info = models.TextField(_("last error"), blank=True, editable=False)
    last_synced_at = models.DateTimeField(_("last synced"), null=True, blank=True, editable=False)
    # What the last sync, pull or failure did, and the last conflicts: data (codes and parameters), made into
    # words when shown (contactgroups.words).
    last_outcome = StorableJSONField(_("last sync"), default=dict, blank=True, editable=False)
    conflicts = StorableJSONField(
        _("last conflict"), default=list, blank=True, editable=False,
        help_text=_("Where the user changed in the app what staff changed here, and whose change won."),
    )
    # How far the running sync is, for pages that follow it live: its Chat calls made and planned (the read
    # counts as one). Written only when a sync makes more than one call; 0 and 0 when no sync runs.
    calls_done = models.PositiveSmallIntegerField(_("Chat calls made"), default=0, editable=False)
    calls_planned = models.PositiveSmallIntegerField(_("Chat calls planned"), default=0, editable=False)
    # The last reading of the group in Chat (the drift sweep's or the group page's), as data: {"group_id", "name",
    # "conversations": [[type, target], ...]}, or {"missing": true} when Chat no longer had it; and when it was
    # read. ``drift`` is what the user changed in the app that the mirror does not show yet (sync.drift), as
    # data; null when the reading found nothing.
    chat_reading = StorableJSONField(_("last reading of Chat"), null=True, blank=True, editable=False)
    chat_read_at = models.DateTimeField(_("Chat last read"), null=True, blank=True, editable=False)
    drift = StorableJSONField(_("changed in the app"), null=True, blank=True, editable=False)
    # The lease (sync.lease): the token of the sync that holds it and until when.
    lock_token = models.CharField(max_length=32, blank=True, editable=False)
    lock_until = models.DateTimeField(null=True, blank=True, editable=False)
    # The retries of a sync that failed in a way that may pass (sync.retries): the attempts that failed so far
    # and when the next is due (null when none waits). Written when a retry is scheduled, cleared by the sync's
    # end; a retry handed over for another attempt than the one the row waits for does nothing.
    attempts = models.PositiveSmallIntegerField(_("attempts failed"), default=0, editable=False)
    retry_at = models.DateTimeField(_("next try"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("group in Chat")
        verbose_name_plural = _("groups in Chat")
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "chat_group_id"],
                condition=Q(chat_group_id__isnull=False) & Q(deleted=False),
                name="groupsync_unique_groupid_per_owner",
            ),
        ]
        indexes = [
            # "Changed in the app": the few groups with drift, found without reading the rest.
            models.Index(fields=["group"], condition=Q(drift__isnull=False), name="groupsync_drift"),
            # The few groups waiting for a retry, found without reading the rest (when Chat answers again).
            models.Index(fields=["retry_at"], condition=Q(retry_at__isnull=False), name="groupsync_retry_waiting"),
        ]

    def __str__(self):
        return str(self.group_id)

    @classmethod
    def for_groups(cls, groups) -> list["GroupSync"]:
        """The rows of ``groups`` just made by a ``bulk_create`` (with their pks), not saved."""
        return [cls(group_id=group.pk, owner_id=group.owner_id) for group in groups]

    def keeps_name(self, name: str) -> bool:
        """Whether ``name`` is the name Chat holds for the group: a sync never sends it (a name is sent only when it
        differs from the one Chat confirmed), so it is kept as it is, even one Chat would refuse if it were sent
        (spaces at its ends, given in the app)."""
        return bool(self.confirmed_name) and name == self.confirmed_name

    @property
    def outcome(self) -> SyncOutcome | PullOutcome | None:
        """``last_outcome`` as its typed value (a sync's or a pull's); None when there is none or its code is
        unknown. The sync and a pull write the column (``to_json``); contactgroups.words says it."""
        return group_outcome(self.last_outcome)

    @property
    def last_error_meaning(self) -> str:
        if self.last_error_code is None:
            return ""
        return words.meaning(self.last_error_code)
