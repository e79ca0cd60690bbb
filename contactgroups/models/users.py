"""Chat users (ChatUser): the owners of conversation groups, with the one rule for finding them by part of a name.

``ChatUser.objects.matching`` is answered by an index on either database (``contactgroups.indexes``);
``ChatUser.objects.lock`` serialises saves for one owner.
"""

from django.core.exceptions import EmptyResultSet
from django.db import connections, models, router
from django.utils.translation import gettext_lazy as _

from contactgroups import words
from contactgroups.chat import protocol
from contactgroups.indexes import TRIGRAM, USER_SEARCH, PrefixSearchIndex
from contactgroups.models.fields import StorableJSONField
from contactgroups.validators import validate_user_id


class ChatUserQuerySet(models.QuerySet):
    def lock(self, owner) -> None:
        """Serialise saves for one owner (a ChatUser or its pk), so two staff cannot both add the 20th group.

        Only inside a transaction (the admin's change view is one); elsewhere a no-op.
        """
        if connections[router.db_for_write(self.model)].in_atomic_block:
            list(self.select_for_update().filter(pk=getattr(owner, "pk", owner)).values_list("pk"))

    def matching(self, text: str):
        """The users whose UserID or nickname contains ``text`` (stripped), in any case, found through an index.

        Three characters or more: anywhere in either (a trigram index: FTS5 on SQLite, pg_trgm on PostgreSQL).
        One or two: at the start of either (the prefix indexes), since no trigram index answers them quickly.
        Nothing matches an empty text. The text is only ever text: quotes, %, _, * or AND match themselves.
        """
        text = text.strip()
        # No stored name holds a NUL or a lone surrogate, and the databases refuse both.
        if not text or not protocol.storable(text):
            return self.none()
        if len(text) < TRIGRAM:
            # Two subqueries, each answered by its index, rather than an OR that neither answers alone.
            by_user_id = ChatUser.objects.filter(user_id__istartswith=text).values("pk").order_by()
            by_nickname = ChatUser.objects.filter(nickname__istartswith=text).values("pk").order_by()
            return self.filter(pk__in=by_user_id.union(by_nickname))
        return self.filter(USER_SEARCH.contains(connections[self.db].vendor, text))

    def matches_any(self, text: str) -> bool:
        """Whether any user ``matching(text)``, as quickly for a text nobody matches as for a common one."""
        matches = self.matching(text).values("pk").order_by()
        connection = connections[self.db]
        if connection.vendor != "postgresql":
            return matches.exists()
        # Under exists()'s LIMIT 1, PostgreSQL reads the table in order hoping to meet a match soon: all of it,
        # for a text nobody matches. A materialized CTE is planned on its own, through the indexes.
        try:
            sql, params = matches.query.get_compiler(connection=connection).as_sql()
        except EmptyResultSet:  # matching() is none(): a text that cannot match
            return False
        with connection.cursor() as cursor:
            cursor.execute(f"WITH matching AS MATERIALIZED ({sql}) SELECT EXISTS (SELECT 1 FROM matching)", params)
            return cursor.fetchone()[0]


class ChatUser(models.Model):
    """A Chat account (UserID), the owner of conversation groups."""

    class ImportState(models.TextChoices):
        UNKNOWN = "unknown", _("Not checked")
        IMPORTED = "imported", _("Imported")
        NOT_IMPORTED = "not_imported", _("Not imported")
        FAILED = "failed", _("Import failed")

    user_id = models.CharField(
        _("UserID"),
        max_length=protocol.USER_ID_MAX_BYTES,
        unique=True,
        validators=[validate_user_id],
        help_text=words.lazy_format(_("The Chat UserID, at most %(max)d bytes."), max=protocol.USER_ID_MAX_BYTES),
    )
    # Sent to Chat as the Nick on import: 100 characters are at most 400 bytes in UTF-8, within the
    # protocol.PROFILE_VALUE_MAX_BYTES Chat keeps, so a nickname the form or the CSV import accepts always fits.
    nickname = models.CharField(_("nickname"), max_length=100, blank=True)
    import_state = models.CharField(
        _("in Chat"), max_length=16, choices=ImportState.choices, default=ImportState.UNKNOWN, db_index=True
    )
    imported_at = models.DateTimeField(_("imported at"), null=True, blank=True)
    checked_at = models.DateTimeField(_("last checked"), null=True, blank=True)
    last_error_code = models.IntegerField(_("last error code"), null=True, blank=True)
    last_error_info = models.TextField(_("last error"), blank=True)
    # What the last import or check said of the user, as data (outcomes.AccountOutcome; words.account_text says
    # it), and its retries when it failed in a way that may pass (sync.accounts): the attempts that failed so far
    # and when the next is due (null when none waits).
    last_outcome = StorableJSONField(_("last answer"), default=dict, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(_("attempts failed"), default=0, editable=False)
    retry_at = models.DateTimeField(_("next try"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ChatUserQuerySet.as_manager()

    class Meta:
        verbose_name = _("Chat user")
        verbose_name_plural = _("Chat users")
        ordering = ["user_id"]
        indexes = [
            # Searching by part of a name (ChatUserQuerySet.matching): these serve texts of one or two characters;
            # migration 0010_user_search adds the trigram index of each database for longer ones.
            PrefixSearchIndex(field="user_id", name="chatuser_user_id_prefix"),
            PrefixSearchIndex(field="nickname", name="chatuser_nickname_prefix"),
        ]
        permissions = [
            ("import_chatuser", _("Can import users into Chat and check them")),
        ]

    def __str__(self):
        if self.nickname:
            return f"{self.user_id} ({self.nickname})"
        return self.user_id
