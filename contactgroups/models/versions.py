"""The versions of a group Chat confirmed: each name and set of conversations a sync or a pull saved as Chat's, kept
as data so staff can restore any of them.

A version is written wherever a group's confirmed state is saved and differs from the one it replaces (a sync that
changed nothing Chat holds adds none). A confirmed delete is no version; the versions before it are kept, so a
deleted group can be restored.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from contactgroups.chat import protocol
from contactgroups.chat.types import Conversation
from contactgroups.models.fields import StorableJSONField
from contactgroups.models.mirror import ContactGroup


def confirmed_state(group: ContactGroup) -> tuple:
    """What Chat confirmed of ``group`` (its sync row), as a value to compare: its name, conversations and GroupId."""
    confirmed = group.sync
    return confirmed.confirmed_name, tuple(tuple(pair) for pair in confirmed.confirmed_conversations), \
        confirmed.chat_group_id


class GroupVersion(models.Model):
    """One state of a group that Chat confirmed: its name and conversations then, Chat's GroupId, when, and for whom."""

    group = models.ForeignKey(ContactGroup, on_delete=models.CASCADE, related_name="versions",
                              verbose_name=_("group"))
    name = models.CharField(_("group name"), max_length=protocol.GROUP_NAME_MAX_BYTES)
    conversations = StorableJSONField(_("conversations"), default=list,
                                     help_text=_("The [type, target] pairs Chat confirmed, sorted."))
    chat_group_id = models.PositiveBigIntegerField(_("GroupId"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+", verbose_name=_("staff user"))

    class Meta:
        verbose_name = _("version")
        verbose_name_plural = _("versions")
        ordering = ["-confirmed_at", "-id"]
        indexes = [models.Index(fields=["group", "confirmed_at", "id"], name="groupversion_group_time")]

    def __str__(self):
        return f"{self.name} ({self.confirmed_at:%Y-%m-%d %H:%M})"

    @classmethod
    def after_save(cls, group: ContactGroup, before: tuple, actor_id: int | None, at) -> "GroupVersion | None":
        """The version to keep (not saved) now that ``group``'s confirmed state was saved, or None when there is
        none to keep: the group is deleted, Chat has confirmed nothing of it, or the state is ``before``'s."""
        confirmed = group.sync
        if group.state == ContactGroup.State.DELETED or not confirmed.confirmed_name:
            return None
        if confirmed_state(group) == before:
            return None
        conversations = sorted(Conversation(*pair) for pair in confirmed.confirmed_conversations)
        return cls(group_id=group.pk, name=confirmed.confirmed_name, chat_group_id=confirmed.chat_group_id,
                   conversations=[[c.type, c.target] for c in conversations], confirmed_at=at, actor_id=actor_id)

    @property
    def conversation_set(self) -> set[Conversation]:
        return {Conversation(*pair) for pair in self.conversations}
