"""Every module of the app is at most 400 lines and opens with a docstring whose first line says what it is."""

import ast
from pathlib import Path

from tests.services import ROOT

MAX_LINES = 400
PACKAGES = ("contactgroups", "imadmin")

# Modules still over MAX_LINES while issue 21 shrinks them in work not merged yet. The list goes once that work is
# merged; a module that is no longer over the limit must leave it at once, so it never hides a module that grew.
BEING_SHRUNK = {
    "contactgroups/bulk.py",
    "contactgroups/sync/drift.py",
    "contactgroups/sync/execute.py",
}


def app_modules() -> list[Path]:
    """Every Python module of the app and the project, migrations excepted."""
    return [
        path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.relative_to(ROOT).parts
    ]


def line_count(path: Path) -> int:
    return len(path.read_text().splitlines())


def docstring_problem(path: Path) -> str | None:
    """Why ``path`` does not open with a docstring whose first line says what it is (None when it does)."""
    docstring = ast.get_docstring(ast.parse(path.read_text()), clean=False)
    if docstring is None:
        return "opens with no docstring"
    if not docstring.split("\n", 1)[0].strip():
        return "opens with a docstring whose opening line is blank"
    return None


def test_no_module_is_over_400_lines():
    over = [f"{path.relative_to(ROOT)}: {line_count(path)} lines" for path in app_modules()
            if line_count(path) > MAX_LINES and path.relative_to(ROOT).as_posix() not in BEING_SHRUNK]
    assert over == [], f"split these along their seams (at most {MAX_LINES} lines a module)"


def test_the_modules_being_shrunk_are_named_exactly():
    for name in sorted(BEING_SHRUNK):
        path = ROOT / name
        assert path.exists(), f"{name} is gone: take it off BEING_SHRUNK"
        assert line_count(path) > MAX_LINES, f"{name} is {line_count(path)} lines now: take it off BEING_SHRUNK"


def test_every_module_opens_with_a_docstring_that_says_what_it_is():
    wrong = [f"{path.relative_to(ROOT)} {problem}" for path in app_modules() if (problem := docstring_problem(path))]
    assert wrong == []


def test_the_checks_find_a_long_module_and_one_without_a_docstring(tmp_path):
    long = tmp_path / "long.py"
    long.write_text('"""A module of many lines."""\n' + "x = 1\n" * MAX_LINES)
    assert line_count(long) == MAX_LINES + 1
    assert docstring_problem(long) is None
    for text in ("", "import os\n", 'import os\n"""Too late."""\n', '"""\n\nBlank first line."""\n'):
        bare = tmp_path / "bare.py"
        bare.write_text(text)
        assert docstring_problem(bare) is not None, text
