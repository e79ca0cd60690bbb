"""The mirror of Chat's conversation groups: the groups (ContactGroup), their conversations (ContactItem), queries.

A group's row says what staff want of it; what Chat assigned or last confirmed of it (GroupId, the confirmed name
and conversations) and the sync's own data are its ``sync`` row (``confirmed.GroupSync``), which only the sync
writes. Each conversation keeps Chat's last ResultCode beside it, so the admin can show what Chat said and the sync
can tell the staff's change from the end user's. Models never call Chat; contactgroups.sync does. The groups'
owners are ``users.ChatUser``.
"""

from django.db import connections, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contactgroups import words
from contactgroups.chat import errors, protocol
from contactgroups.chat.types import Conversation
from contactgroups.indexes import GROUP_ID_SEARCH, GROUP_NAME_SEARCH, TRIGRAM, PrefixSearchIndex
from contactgroups.models.users import ChatUser
from contactgroups.validators import validate_group_name


class ContactGroupQuerySet(models.QuerySet):
    def live(self):
        """Groups that are not deleted: the ones that count against Chat's limits and hold a name."""
        return self.exclude(state=ContactGroup.State.DELETED)

    def count_for_owner(self, owner, exclude_pk: int | None = None) -> int:
        """How many live groups the owner (a ChatUser or its pk) has, leaving out ``exclude_pk``.

        The admin form and the CSV import both count with this, so they refuse the same 21st group.
        """
        groups = self.live().filter(owner=owner)
        if exclude_pk is not None:
            groups = groups.exclude(pk=exclude_pk)
        return groups.count()

    def matching(self, text: str, each_row: bool = False):
        """The groups a search for ``text`` (stripped) finds: those whose name contains it, in any case; those
        holding a group conversation whose id contains it, or a one-to-one conversation with exactly this UserID;
        and those of owners ``ChatUser.objects.matching`` it. Nothing matches an empty text.

        Three characters or more: each part through its index (trigrams, contactgroups.indexes). One or two, which
        no trigram index answers: every group's name is read for it (slower on a long list: the group list says
        so), and a group conversation's id is matched whole. ``each_row``: the same rule tested on each group read
        (its name with ``icontains``), for a few groups read in an index's order rather than every match found.
        """
        text = text.strip()
        if not text or not protocol.storable(text):
            return self.none()
        vendor = connections[self.db].vendor
        short = len(text) < TRIGRAM
        name = Q(name__icontains=text) if short else GROUP_NAME_SEARCH.contains(vendor, text)
        group_id = Q(to_group_id=text) if short else GROUP_ID_SEARCH.contains(vendor, text)
        owners = ChatUser.objects.matching(text).values("pk").order_by()
        by_user_id = ContactItem.objects.filter(to_account=text).values("group_id").order_by()
        by_group_id = ContactItem.objects.filter(group_id).values("group_id").order_by()
        if each_row and not short and (vendor != "sqlite" or text.isascii() or text.lower() == text.upper()):
            # SQLite's LIKE folds the case of ASCII letters alone; its trigram index folds every letter's.
            name = Q(name__icontains=text)
        if short or each_row:
            # Every group's name is read anyway: one pass over the groups, testing the other parts as it goes.
            return self.filter(name | Q(owner__in=owners) | Q(pk__in=by_user_id.union(by_group_id)))
        # The union of small subqueries, each answered by an index: no join to the conversations (which would need
        # DISTINCT), and no OR across tables (which no index answers).
        named = ContactGroup.objects.filter(name).values("pk").order_by()
        owned = ContactGroup.objects.filter(owner__in=owners).values("pk").order_by()
        return self.filter(pk__in=named.union(owned, by_user_id, by_group_id))

    def drifted(self):
        """Groups whose last reading of Chat found the user changed them in the app: their pks read from the sync
        rows' partial index (``groupsync_drift``) in a subquery, so no group without drift is read, however many
        there are."""
        confirmed = self.model._meta.get_field("sync").related_model
        return self.filter(pk__in=confirmed.objects.filter(drift__isnull=False).values("group_id"))

    def stranded(self, unchanged_since):
        """Groups waiting for a sync that nothing runs: queued, syncing or being deleted, with no lease or one
        that expired (its sync died), and unchanged since ``unchanged_since`` (a datetime)."""
        waiting = [ContactGroup.State.QUEUED, ContactGroup.State.SYNCING, ContactGroup.State.DELETING]
        return self.filter(state__in=waiting, updated_at__lte=unchanged_since).filter(
            Q(sync__lock_until__isnull=True) | Q(sync__lock_until__lt=timezone.now())
        )


class ContactGroup(models.Model):
    """One conversation group of one Chat user, as imadmin wants it in Chat.

    What Chat confirmed of it, the last outcome, progress, drift reading and lease are its ``sync`` row
    (``GroupSync``), made with it. The state stays here, beside the name: the name is unique among the owner's
    groups that are not deleted (a constraint on this row's state), and the changelist's indexes order each state by
    last change. The sync sets the state; a save writes it only as a request (``REQUESTED_STATES``).
    """

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        QUEUED = "queued", _("Queued")
        SYNCING = "syncing", _("Syncing")
        SYNCED = "synced", _("Synced")
        PARTIAL = "partial", _("Partly refused")
        FAILED = "failed", _("Failed")
        DELETING = "deleting", _("Deleting")
        DELETED = "deleted", _("Deleted")

    owner = models.ForeignKey(
        ChatUser, on_delete=models.PROTECT, related_name="contact_groups", verbose_name=_("owner")
    )
    name = models.CharField(
        _("group name"),
        max_length=protocol.GROUP_NAME_MAX_BYTES,
        validators=[validate_group_name],
        help_text=words.lazy_format(_("At most %(max)d bytes of UTF-8: a CJK character takes 3 bytes, an emoji 4."),
                                    max=protocol.GROUP_NAME_MAX_BYTES),
    )
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.DRAFT, editable=False
    )
    delete_requested = models.BooleanField(
        _("deletion requested"), default=False, editable=False,
        help_text=_("Staff deleted this group; the next sync deletes it from Chat."),
    )
    # The changelist's columns, kept on the row so a page of 100 groups never counts a million conversations;
    # refresh_counts() is the one place that sets them.
    conversation_count = models.PositiveIntegerField(_("conversations"), default=0, editable=False)
    accepted_count = models.PositiveIntegerField(_("accepted"), default=0, editable=False)
    refused_count = models.PositiveIntegerField(_("refused"), default=0, editable=False)
    # The admin history entry (LogEntry pk) of the last staff action on the group: the history entries of the syncs
    # that carry it out name it, so the history page shows them under it.
    last_staff_action = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ContactGroupQuerySet.as_manager()

    # What staff want of the group: all that save() writes to an existing row. The state is written only as a
    # request (below); the counts, the last staff action and the state the sync set are written only where they are
    # named (save(update_fields=...), QuerySet.update), so a group loaded before a sync ran, saved after it, cannot
    # write back what the sync left. What Chat confirmed is on the ``sync`` row, which no save of the group writes.
    DESIRED_FIELDS = ("owner", "name", "delete_requested")
    # The states a staff change sets (saved, waiting for a sync): a save writes the state only when it is one.
    REQUESTED_STATES = (State.DRAFT, State.QUEUED, State.DELETING)

    class Meta:
        verbose_name = _("conversation group")
        verbose_name_plural = _("conversation groups")
        ordering = ["owner__user_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "name"],
                condition=~Q(state="deleted"),
                name="contactgroup_unique_name_per_owner",
                violation_error_message=_("This user already has a conversation group with this name."),
            ),
        ]
        indexes = [
            models.Index(fields=["name"], name="contactgroup_name"),
            PrefixSearchIndex(field="name", name="contactgroup_name_prefix"),
            # The admin lists groups most recently changed first, pk breaking ties: all of them, those in one
            # state, those of one owner in one state. Each filter has an index in that order, so neither
            # database sorts a whole state's rows or reads a whole state to find one owner's groups.
            models.Index(fields=["updated_at", "id"], name="contactgroup_updated_id"),
            models.Index(fields=["state", "updated_at", "id"], name="contactgroup_state_updated"),
            models.Index(fields=["owner", "state", "updated_at", "id"], name="contactgroup_owner_state"),
        ]
        permissions = [
            ("sync_contactgroup", _("Can sync conversation groups to Chat")),
            ("pull_contactgroup", _("Can pull conversation groups from Chat")),
        ]

    def __str__(self):
        return f"{self.name} ({self.owner.user_id})" if self.owner_id else self.name

    def save(self, **kwargs):
        if self._state.adding or kwargs.get("force_insert"):
            # The group and its sync row are made together: every group has one.
            with transaction.atomic(using=kwargs.get("using"), savepoint=False):
                super().save(**kwargs)
                self.sync = self._meta.get_field("sync").related_model.objects.create(group=self,
                                                                                       owner_id=self.owner_id)
            self._loaded_owner_id = self.owner_id
            return
        if kwargs.get("update_fields") is not None:
            super().save(**kwargs)
        else:
            # A save asks for a deletion but never takes one back, nor sets a group staff deleted waiting for a sync
            # again: a copy loaded before the delete, saved after it, would bring the group back into Chat. (Taking
            # a deletion back is the restore's, which names the fields it writes.)
            desired = self.DESIRED_FIELDS if self.delete_requested else tuple(
                name for name in self.DESIRED_FIELDS if name != "delete_requested")
            super().save(**{**kwargs, "update_fields": (*desired, "updated_at")})
            if self.state in self.REQUESTED_STATES:
                rows = ContactGroup.objects.filter(pk=self.pk)
                if not self.delete_requested:
                    rows = rows.filter(delete_requested=False)
                rows.update(state=self.state)
        update_fields = kwargs.get("update_fields")
        if (update_fields is None or "owner" in update_fields) and self.owner_id != getattr(
                self, "_loaded_owner_id", self.owner_id):
            # The sync row's copy of the owner (its GroupId is unique per owner) follows the group's.
            self._meta.get_field("sync").related_model.objects.filter(group=self).update(owner_id=self.owner_id)
            self._loaded_owner_id = self.owner_id

    @classmethod
    def from_db(cls, db, field_names, values):
        group = super().from_db(db, field_names, values)
        group._loaded_owner_id = group.__dict__.get("owner_id")
        return group

    def keeps_name(self, name: str) -> bool:
        """Whether ``name`` is the name Chat holds for the group (``GroupSync.keeps_name``); never for a group not
        yet saved."""
        confirmed = getattr(self, "sync", None) if self.pk else None
        return confirmed is not None and confirmed.keeps_name(name)

    def clean_fields(self, exclude=None):
        # The name's checks are those of a name sent to Chat; a name kept as Chat holds it is not sent.
        if self.keeps_name(self.name):
            exclude = {*(exclude or ()), "name"}
        super().clean_fields(exclude=exclude)

    def refresh_counts(self, save: bool = True, codes: list[int | None] | None = None) -> None:
        """Recount the group's conversations and Chat's accepted and refused answers among them.

        Called wherever conversations change: the admin's save, a sync's save, a pull, an adoption.
        ``save=False`` leaves the write to the caller's own ``save()``. ``codes``, the ResultCode of every
        conversation of the group, spares the query when the caller has just read them (a sync's save).
        """
        # Counted here, not by the database: a group holds at most 1,000 conversations, and reading their codes
        # costs a bulk sync less than building a three-way filtered aggregate.
        if codes is None:
            codes = list(self.items.values_list("result_code", flat=True))
        self.conversation_count = len(codes)
        self.accepted_count = sum(1 for code in codes if code == errors.OK)
        self.refused_count = sum(1 for code in codes if code is not None and code > errors.OK)
        if save:
            ContactGroup.objects.filter(pk=self.pk).update(
                conversation_count=self.conversation_count,
                accepted_count=self.accepted_count,
                refused_count=self.refused_count,
            )


class ContactItemQuerySet(models.QuerySet):
    def live(self):
        """Conversations of groups that are not deleted."""
        return self.exclude(group__state=ContactGroup.State.DELETED)

    def conversations(self) -> list[Conversation]:
        """The rows as Chat conversations, in the queryset's order (one query, no model instances)."""
        return [
            ContactItem.conversation_of(kind, to_account, to_group_id)
            for kind, to_account, to_group_id in self.values_list("type", "to_account", "to_group_id")
        ]

    def grouped_for_owner(self, owner, exclude_group_pk: int | None = None) -> set[Conversation]:
        """The distinct conversations in the owner's live groups, leaving out the group ``exclude_group_pk``.

        Chat counts a conversation once however many of the user's groups hold it; the admin formset and the
        CSV import add their own conversations to this set and check its size.
        """
        items = self.live().filter(group__owner=owner)
        if exclude_group_pk is not None:
            items = items.exclude(group_id=exclude_group_pk)
        return set(items.distinct().conversations())

    def grouped_by_owner(self, owner_pks) -> dict[int, set[Conversation]]:
        """``grouped_for_owner`` of many owners (pks) in one query: the CSV import's bulk read."""
        grouped: dict[int, set[Conversation]] = {}
        rows = self.live().filter(group__owner__in=owner_pks).distinct()
        for owner, kind, to_account, to_group_id in rows.values_list("group__owner", "type", "to_account",
                                                                      "to_group_id"):
            grouped.setdefault(owner, set()).add(ContactItem.conversation_of(kind, to_account, to_group_id))
        return grouped


class ContactItem(models.Model):
    """One conversation in a group: a one-to-one chat with a user, or a group chat."""

    class Type(models.IntegerChoices):
        C2C = protocol.TYPE_C2C, _("One-to-one")
        GROUP = protocol.TYPE_GROUP, _("Group conversation")

    group = models.ForeignKey(ContactGroup, on_delete=models.CASCADE, related_name="items", verbose_name=_("group"))
    type = models.PositiveSmallIntegerField(_("type"), choices=Type.choices, default=Type.C2C)
    to_account = models.CharField(
        _("To_Account (UserID)"), max_length=protocol.USER_ID_MAX_BYTES, blank=True,
        help_text=_("For a one-to-one conversation: the other user's UserID."),
    )
    to_group_id = models.CharField(
        _("ToGroupId"), max_length=protocol.GROUP_CONVERSATION_ID_MAX_BYTES, blank=True,
        help_text=_("For a group conversation: the Chat group id, such as @TGS#1B2AUI7RZ."),
    )
    result_code = models.IntegerField(_("ResultCode"), null=True, blank=True, editable=False)
    result_info = models.TextField(_("ResultInfo"), blank=True, editable=False)
    result_at = models.DateTimeField(_("answered at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ContactItemQuerySet.as_manager()

    # The conversation staff want: all that save() writes to an existing row. Chat's answer to it (result_*) is
    # the sync's, written only where it is named, so a row loaded before a sync keeps, saved after it, Chat's code.
    DESIRED_FIELDS = ("group", "type", "to_account", "to_group_id")

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(type=protocol.TYPE_C2C) & ~Q(to_account="") & Q(to_group_id="")
                )
                | (Q(type=protocol.TYPE_GROUP) & ~Q(to_group_id="") & Q(to_account="")),
                name="contactitem_target_matches_type",
                violation_error_message=_(
                    "A one-to-one conversation needs To_Account only; a group conversation ToGroupId only."
                ),
            ),
            models.UniqueConstraint(
                fields=["group", "type", "to_account", "to_group_id"],
                name="contactitem_unique_per_group",
                violation_error_message=_("This conversation is already in the group."),
            ),
        ]
        indexes = [
            models.Index(fields=["to_account"], name="contactitem_to_account"),
            models.Index(fields=["to_group_id"], name="contactitem_to_group_id"),
            models.Index(fields=["group", "result_code"], name="contactitem_group_result"),
        ]

    def __str__(self):
        return f"{self.get_type_display()}: {self.target}"

    def save(self, **kwargs):
        if kwargs.get("update_fields") is None and not kwargs.get("force_insert") and not self._state.adding:
            kwargs["update_fields"] = self.DESIRED_FIELDS
        super().save(**kwargs)

    @property
    def target(self) -> str:
        return self.to_account if self.type == protocol.TYPE_C2C else self.to_group_id

    @property
    def conversation(self) -> Conversation:
        """The row as a Chat conversation: how Chat tells two conversations apart."""
        return Conversation(self.type, self.target)

    @staticmethod
    def conversation_of(kind: int, to_account: str, to_group_id: str) -> Conversation:
        """A conversation from the row's columns: the one place that reads a row's target."""
        return Conversation(kind, to_account if kind == protocol.TYPE_C2C else to_group_id)

    @staticmethod
    def fields_of(conversation: Conversation) -> dict:
        """The row's columns for ``conversation``: its type and the one target column that type uses."""
        target = "to_group_id" if conversation.is_group else "to_account"
        return {"type": conversation.type, target: conversation.target}

    @staticmethod
    def storage_problem(conversation: Conversation) -> dict | None:
        """Why a row cannot hold ``conversation`` as Chat gave it (None when it can), as data.

        Chat may hold what the columns cannot: a target longer than its column, or text the database refuses.
        """
        if conversation.type not in (protocol.TYPE_C2C, protocol.TYPE_GROUP) or not conversation.target:
            return {"reason": "unstorable"}
        most = protocol.GROUP_CONVERSATION_ID_MAX_BYTES if conversation.is_group else protocol.USER_ID_MAX_BYTES
        size = protocol.utf8_length(conversation.target)
        if size > most:
            return {"reason": "too_long", "bytes": size, "max": most}
        if not protocol.storable(conversation.target):
            return {"reason": "unstorable"}
        return None

    @property
    def result_meaning(self) -> str:
        if self.result_code is None:
            return ""
        return words.meaning(self.result_code)
