"""How the admin shows Chat's codes: the code and what it means."""

from contactgroups import words
from contactgroups.chat import errors


def code_with_meaning(code, info="") -> str:
    """``code: meaning``, with Chat's ``info`` after a refusal; a dash for no code."""
    if code is None:
        return "—"
    text = f"{code}: {words.meaning(code)}"
    return f"{text} ({info})" if info and code != errors.OK else text
