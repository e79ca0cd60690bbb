"""StorableJSONField: a JSON column that keeps text no column can hold (a NUL, a lone surrogate) as its escape."""

import re

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from contactgroups.chat import protocol

# A NUL or half a UTF-16 pair as JSON escapes it; ``protocol.storable`` finds one JSON wrote as it is. A text with
# neither holds nothing to escape. (A whole pair, an emoji, also matches: its value is then walked for nothing.)
_ENCODED_UNSTORABLE = re.compile(r"\\u(?:0000|d[89a-f])")


class StorableJSONEncoder(DjangoJSONEncoder):
    def encode(self, o):
        text = super().encode(o)
        if _ENCODED_UNSTORABLE.search(text) is None and protocol.storable(text):
            return text  # the usual case: encoded once, the value not walked to escape nothing
        return super().encode(protocol.escaped(o))


class StorableJSONField(models.JSONField):
    """A JSON column that writes text no column can hold (a NUL or a lone surrogate Chat sent, in a name an end
    user set) as its visible escape (``protocol.escaped``), so the row is kept on either database: PostgreSQL's
    jsonb refuses ``\\u0000``. Its column and its migrations are a JSONField's."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("encoder", StorableJSONEncoder)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        kwargs.pop("encoder", None)
        return name, "django.db.models.JSONField", args, kwargs
