"""The app's models: Chat's users (``users``), the mirror of their groups (``mirror``) and what Chat confirmed of each
(``confirmed``), the audit of Chat's calls
(``audit``) and their counts a minute (``health``), the versions Chat confirmed (``versions``), staff preferences."""

from contactgroups.models.audit import SyncAttempt, SyncAttemptRefusal
from contactgroups.models.confirmed import GroupSync
from contactgroups.models.health import CallMinute, RefusalMinute
from contactgroups.models.mirror import ContactGroup, ContactGroupQuerySet, ContactItem, ContactItemQuerySet
from contactgroups.models.preferences import StaffPreference
from contactgroups.models.users import ChatUser, ChatUserQuerySet
from contactgroups.models.versions import GroupVersion

__all__ = [
    "CallMinute", "RefusalMinute",
    "ChatUser", "ChatUserQuerySet", "ContactGroup", "ContactGroupQuerySet", "ContactItem", "ContactItemQuerySet",
    "GroupSync", "GroupVersion", "StaffPreference", "SyncAttempt", "SyncAttemptRefusal",
]
