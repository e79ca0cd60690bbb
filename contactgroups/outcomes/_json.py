"""Small helpers the outcome types share to read and write their JSON."""

from enum import StrEnum
from typing import TypeVar

E = TypeVar("E", bound=StrEnum)


def member(enum: type[E], value) -> E | None:
    """``value`` as a member of ``enum``, or ``None`` for a value the enum does not hold (an older or newer code)."""
    try:
        return enum(value)
    except ValueError:
        return None


def conversations(value) -> tuple[tuple[int, str], ...]:
    """Stored ``[type, target]`` pairs as tuples."""
    return tuple((item[0], item[1]) for item in value or ())


def as_lists(pairs) -> list[list]:
    return [[kind, target] for kind, target in pairs]


def present(**fields) -> dict:
    """The fields that hold something: ``None``, ``""``, ``False`` and empty lists are left out, ``0`` is kept."""
    return {key: value for key, value in fields.items()
            if value is not None and value is not False and value != "" and value != [] and value != ()}
