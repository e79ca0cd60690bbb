"""No module of the app outside ``contactgroups/words/`` makes a sentence of translated text and parameters.

Pages and commands call a function of the words package with their data; the words package fills in the
translated text. A module elsewhere that applies ``%`` or ``.format`` to what gettext returns, puts it in an
f-string or hands it to ``words.lazy_format`` builds a sentence where no reader of the words looks for it. The
check reads the source (an AST), so it sees every branch, not only those a test runs.
"""

import ast

from tests.services import ROOT

APP = ROOT / "contactgroups"
TRANSLATING = {"_", "gettext", "ngettext", "pgettext", "npgettext", "gettext_lazy", "ngettext_lazy",
               "pgettext_lazy", "npgettext_lazy"}

# What may stay where it is, by (module, the msgid's first words), and why.
ALLOWED = {
    # Model fields' help texts are made at import time, before any language is active, so they stay lazy
    # (``words.lazy_format`` fills the number in when the page is shown); a migration records them as written.
    ("models/users.py", "The Chat UserID, at most"),
    ("models/mirror.py", "At most %(max)d bytes of UTF-8"),
}


def _translated(node) -> str | None:
    """The msgid when ``node`` is a call of a gettext function with a literal text; else None."""
    if not isinstance(node, ast.Call):
        return None
    name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
    if name not in TRANSLATING:
        return None
    texts = [arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
    return texts[0] if texts else ""


def built_sentences(source: str) -> list[tuple[int, str]]:
    """(line, msgid) of each sentence ``source`` builds from translated text and parameters."""
    found = []
    for node in ast.walk(ast.parse(source)):
        msgid = None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            msgid = _translated(node.left)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
            msgid = _translated(node.func.value)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == \
                "lazy_format" and node.args:
            msgid = _translated(node.args[0])
        elif isinstance(node, ast.JoinedStr):
            msgid = next((text for part in node.values if isinstance(part, ast.FormattedValue)
                          for text in [_translated(part.value)] if text is not None), None)
        if msgid is not None:
            found.append((node.lineno, msgid))
    return found


def app_modules():
    for path in sorted(APP.rglob("*.py")):
        relative = path.relative_to(APP)
        if relative.parts[0] in ("words", "migrations"):
            continue
        yield relative, path


def test_no_module_outside_the_words_package_builds_a_sentence():
    built = []
    used = set()
    for relative, path in app_modules():
        for line, msgid in built_sentences(path.read_text()):
            allowed = next((entry for entry in ALLOWED if entry[0] == relative.as_posix()
                            and msgid.startswith(entry[1])), None)
            if allowed is None:
                built.append(f"contactgroups/{relative}:{line}: {msgid[:60]!r}")
            else:
                used.add(allowed)
    assert built == [], "say it through a function of contactgroups/words/"
    assert used == ALLOWED, "an allowance no longer needed: remove it"


def test_the_check_finds_each_way_of_building_a_sentence():
    planted = '''
from django.utils.translation import gettext as _, ngettext, pgettext
from contactgroups import words

a = _("Nothing was changed: %(reason)s") % {"reason": reason}
b = ngettext("%(count)d group", "%(count)d groups", n) % {"count": n}
c = pgettext("button", "Sync {name}").format(name=name)
d = f"{_('Synced')}: {count}"
e = words.lazy_format(_("At most %(max)d"), max=3)
'''
    assert [line for line, _msgid in built_sentences(planted)] == [5, 6, 7, 8, 9]


def test_the_check_leaves_alone_what_builds_no_sentence():
    fine = '''
from django.utils.translation import gettext as _
from contactgroups import words

a = _("Saved as a draft.")
b = words.answer_refused_text(reason)
c = "%(count)d" % {"count": 3}
d = f"{code}: {meaning}"
e = "{}".format(_("Synced"))
'''
    assert built_sentences(fine) == []
