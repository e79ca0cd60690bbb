"""Database indexes the models need beyond Django's own, on SQLite and PostgreSQL: a case-insensitive prefix search,
and a search by any part of a name (trigrams)."""

from django.db import models
from django.db.backends.ddl_references import Statement, Table
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import Collate


class PrefixSearchIndex(models.Index):
    """An index that a case-insensitive prefix search of one field (``field__istartswith``) can use.

    Each database needs its own: PostgreSQL compares UPPER(field) with LIKE, which an index of UPPER(field) in
    text_pattern_ops answers under any collation; SQLite's LIKE ignores ASCII case and can use only an index
    of the field in its NOCASE collation.
    """

    def __init__(self, *, field: str, name: str):
        super().__init__(fields=[field], name=name)

    def deconstruct(self):
        path, _args, _kwargs = super().deconstruct()
        return path, (), {"field": self.fields[0], "name": self.name}

    def create_sql(self, model, schema_editor, using="", **kwargs):
        field = self.fields[0]
        if schema_editor.connection.vendor == "postgresql":
            # Written out: Django places an operator class on an expression only with django.contrib.postgres.
            return Statement(
                "CREATE INDEX %(name)s ON %(table)s ((UPPER(%(column)s::text)) text_pattern_ops)",
                name=schema_editor.quote_name(self.name),
                table=Table(model._meta.db_table, schema_editor.quote_name),
                column=schema_editor.quote_name(model._meta.get_field(field).column),
            )
        return models.Index(Collate(field, "NOCASE"), name=self.name).create_sql(model, schema_editor, using, **kwargs)


# Searching by any part of a name: the Chat users by UserID or nickname (ChatUser.objects.matching, built by
# migration 0010_user_search), the groups by name and by a group conversation's id (ContactGroup.objects.matching,
# migration 0021_group_search). A trigram index on each database; a trigram is three characters, so a shorter text
# cannot use it and each search says what it does instead.
TRIGRAM = 3


class TrigramSearch:
    """One table's search by any part of some of its text columns: the statements that build and drop its index
    on each database, and the condition that uses it (``contains``).

    SQLite: an FTS5 table with the trigram tokenizer over the table (external content: it keeps only the index),
    kept in step by triggers. PostgreSQL: a GIN trigram index (pg_trgm, a trusted extension) of UPPER(column) for
    each column, the expression Django's ``icontains`` compares, so that lookup itself uses them.
    """

    def __init__(self, table: str, columns: tuple[str, ...], migration: str):
        self.table = table
        self.columns = columns  # each column is its field's name
        self.migration = migration  # the migration that builds it
        self.sqlite_table = f"{table}_search"
        self.sqlite_triggers = [f"{self.sqlite_table}_{event}" for event in ("insert", "delete", "update")]
        model = table.removeprefix("contactgroups_")
        self.postgresql_indexes = [f"{model}_{column}_trigram" for column in columns]

    def _values(self, row: str) -> str:
        return ", ".join(f"{row}.{column}" for column in self.columns)

    @property
    def sqlite_create(self) -> list[str]:
        search, table, columns = self.sqlite_table, self.table, ", ".join(self.columns)
        insert = f"INSERT INTO {search} (rowid, {columns}) VALUES (new.id, {self._values('new')}); "
        delete = f"INSERT INTO {search} ({search}, rowid, {columns}) VALUES ('delete', old.id, {self._values('old')}); "
        return [
            f"CREATE VIRTUAL TABLE {search} USING fts5({columns}, content='{table}', content_rowid='id', "
            "tokenize='trigram')",
            f"CREATE TRIGGER {search}_insert AFTER INSERT ON {table} BEGIN {insert}END",
            f"CREATE TRIGGER {search}_delete AFTER DELETE ON {table} BEGIN {delete}END",
            f"CREATE TRIGGER {search}_update AFTER UPDATE OF id, {columns} ON {table} BEGIN {delete}{insert}END",
            f"INSERT INTO {search} ({search}) VALUES ('rebuild')",
        ]

    @property
    def sqlite_drop(self) -> list[str]:
        return [*(f"DROP TRIGGER IF EXISTS {trigger}" for trigger in self.sqlite_triggers),
                f"DROP TABLE IF EXISTS {self.sqlite_table}"]

    @property
    def postgresql_create(self) -> list[str]:
        return ["CREATE EXTENSION IF NOT EXISTS pg_trgm", *(
            f"CREATE INDEX {index} ON {self.table} USING gin ((UPPER({column}::text)) gin_trgm_ops)"
            for index, column in zip(self.postgresql_indexes, self.columns, strict=True))]

    @property
    def postgresql_drop(self) -> list[str]:
        # The extension stays: other objects of the database may use it.
        return [f"DROP INDEX IF EXISTS {index}" for index in self.postgresql_indexes]

    def statements(self, vendor: str, *, forward: bool) -> list[str]:
        """A migration's statements on ``vendor``'s database: those that build the index, or those that drop it."""
        if vendor == "sqlite":
            return self.sqlite_create if forward else self.sqlite_drop
        if vendor == "postgresql":
            return self.postgresql_create if forward else self.postgresql_drop
        return []

    def contains(self, vendor: str, text: str) -> Q:
        """The rows of which a column contains ``text`` (of TRIGRAM characters or more), in any case, found
        through the index: a condition on a queryset of the table's model, on ``vendor``'s database."""
        if vendor == "sqlite":
            return Q(pk__in=RawSQL(f"SELECT rowid FROM {self.sqlite_table} WHERE {self.sqlite_table} MATCH %s",
                                   [fts_phrase(text)]))
        condition = Q()
        for column in self.columns:
            condition |= Q(**{f"{column}__icontains": text})
        return condition

    def ensure_sqlite(self, connection) -> bool:
        """Create the SQLite search table and its triggers again when a migration rebuilt the table (SQLite rebuilds
        a table to alter it, dropping its triggers); True if it had to. A no-op on other databases."""
        if connection.vendor != "sqlite":
            return False
        with connection.cursor() as cursor:
            tables = set(connection.introspection.table_names(cursor))
            if self.table not in tables:
                return False
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [self.table])
            triggers = {name for (name,) in cursor.fetchall()}
            if self.sqlite_table in tables and triggers >= set(self.sqlite_triggers):
                return False
            for statement in [*self.sqlite_drop, *self.sqlite_create]:
                cursor.execute(statement)
        return True


USER_SEARCH = TrigramSearch("contactgroups_chatuser", ("user_id", "nickname"), "0010_user_search")
# The groups by name, and their conversations by a group conversation's id (a To_Account is found whole).
GROUP_NAME_SEARCH = TrigramSearch("contactgroups_contactgroup", ("name",), "0021_group_search")
GROUP_ID_SEARCH = TrigramSearch("contactgroups_contactitem", ("to_group_id",), "0021_group_search")
SEARCHES = [USER_SEARCH, GROUP_NAME_SEARCH, GROUP_ID_SEARCH]

# Migration 0010_user_search's statements, by the names it imports.
USER_SEARCH_TABLE = USER_SEARCH.sqlite_table
SQLITE_USER_SEARCH = USER_SEARCH.sqlite_create
SQLITE_USER_SEARCH_TRIGGERS = USER_SEARCH.sqlite_triggers
SQLITE_DROP_USER_SEARCH = USER_SEARCH.sqlite_drop
POSTGRESQL_USER_SEARCH = USER_SEARCH.postgresql_create
POSTGRESQL_DROP_USER_SEARCH = USER_SEARCH.postgresql_drop


def fts_phrase(text: str) -> str:
    """``text`` as one FTS5 phrase: quoted, so its words, quotes, stars and operators (AND, OR, NEAR) are text."""
    return '"' + text.replace('"', '""') + '"'
