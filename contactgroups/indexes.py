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
