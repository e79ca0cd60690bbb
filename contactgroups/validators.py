"""Django validators built on the pure checks in protocol.py."""

from django.core.exceptions import ValidationError

from contactgroups import words
from contactgroups.chat import protocol


def _raise_if(messages: list[str], code: str) -> None:
    if messages:
        raise ValidationError([words.say(message) for message in messages], code=code)


def validate_group_name(value: str) -> None:
    _raise_if(protocol.validate_group_name(value), "group_name")


def validate_user_id(value: str) -> None:
    _raise_if(protocol.validate_user_id(value), "user_id")
