"""Database indexes the models need beyond Django's own: a case-insensitive prefix search on SQLite and PostgreSQL."""

from django.db import models
from django.db.backends.ddl_references import Statement, Table
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


# The search of Chat users by any part of the UserID or the nickname (ChatUser.objects.matching): a trigram index
# on each database, built by migration 0010_user_search. A trigram is three characters, so a shorter text cannot
# use it and is searched as a prefix instead.
TRIGRAM = 3

# SQLite: an FTS5 table with the trigram tokenizer over the Chat users' table (external content: it keeps only the
# index), kept in step by triggers.
USER_SEARCH_TABLE = "contactgroups_chatuser_search"

SQLITE_USER_SEARCH = [
    f"CREATE VIRTUAL TABLE {USER_SEARCH_TABLE} USING fts5(user_id, nickname, content='contactgroups_chatuser', "
    "content_rowid='id', tokenize='trigram')",
    f"CREATE TRIGGER {USER_SEARCH_TABLE}_insert AFTER INSERT ON contactgroups_chatuser BEGIN "
    f"INSERT INTO {USER_SEARCH_TABLE} (rowid, user_id, nickname) VALUES (new.id, new.user_id, new.nickname); END",
    f"CREATE TRIGGER {USER_SEARCH_TABLE}_delete AFTER DELETE ON contactgroups_chatuser BEGIN "
    f"INSERT INTO {USER_SEARCH_TABLE} ({USER_SEARCH_TABLE}, rowid, user_id, nickname) "
    "VALUES ('delete', old.id, old.user_id, old.nickname); END",
    f"CREATE TRIGGER {USER_SEARCH_TABLE}_update AFTER UPDATE OF id, user_id, nickname ON contactgroups_chatuser BEGIN "
    f"INSERT INTO {USER_SEARCH_TABLE} ({USER_SEARCH_TABLE}, rowid, user_id, nickname) "
    "VALUES ('delete', old.id, old.user_id, old.nickname); "
    f"INSERT INTO {USER_SEARCH_TABLE} (rowid, user_id, nickname) VALUES (new.id, new.user_id, new.nickname); END",
    f"INSERT INTO {USER_SEARCH_TABLE} ({USER_SEARCH_TABLE}) VALUES ('rebuild')",
]
SQLITE_USER_SEARCH_TRIGGERS = [f"{USER_SEARCH_TABLE}_{event}" for event in ("insert", "delete", "update")]
SQLITE_DROP_USER_SEARCH = [
    *(f"DROP TRIGGER IF EXISTS {trigger}" for trigger in SQLITE_USER_SEARCH_TRIGGERS),
    f"DROP TABLE IF EXISTS {USER_SEARCH_TABLE}",
]

# PostgreSQL: GIN trigram indexes (pg_trgm, a trusted extension) of UPPER(column), the expression Django's
# ``icontains`` compares, so that lookup itself uses them.
POSTGRESQL_USER_SEARCH = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    *(f"CREATE INDEX chatuser_{column}_trigram ON contactgroups_chatuser USING gin ((UPPER({column}::text)) "
      "gin_trgm_ops)" for column in ("user_id", "nickname")),
]
# The extension stays: other objects of the database may use it.
POSTGRESQL_DROP_USER_SEARCH = [f"DROP INDEX IF EXISTS chatuser_{column}_trigram" for column in ("user_id", "nickname")]


def fts_phrase(text: str) -> str:
    """``text`` as one FTS5 phrase: quoted, so its words, quotes, stars and operators (AND, OR, NEAR) are text."""
    return '"' + text.replace('"', '""') + '"'


def ensure_sqlite_user_search(connection) -> bool:
    """Create the SQLite search table and its triggers again when a migration rebuilt the Chat users' table (SQLite
    rebuilds a table to alter it, dropping its triggers); True if it had to. A no-op on other databases."""
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        if "contactgroups_chatuser" not in tables:
            return False
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'contactgroups_chatuser'")
        triggers = {name for (name,) in cursor.fetchall()}
        if USER_SEARCH_TABLE in tables and triggers >= set(SQLITE_USER_SEARCH_TRIGGERS):
            return False
        for statement in [*SQLITE_DROP_USER_SEARCH, *SQLITE_USER_SEARCH]:
            cursor.execute(statement)
    return True
