"""The layers' import direction (docs/architecture.md): each floor imports only from the floors below it."""

import ast
import subprocess
import sys
from pathlib import Path

from tests.services import ROOT

APP = ROOT / "contactgroups"
# Floor of each module or package of the app, from the ground up; a module may import only from lower floors
# (and from its own package).
FLOORS = {
    "chat": 0, "outcomes": 0,
    "words": 1, "spreadsheet": 1, "indexes": 1,
    "validators": 2, "conf": 2, "permissions": 2,
    "models": 3, "templatetags": 3, "engine": 3,
    "sync": 4, "forms": 4, "language": 4, "unstorable": 4, "rows": 4, "monitoring": 4,
    "tasks": 5, "probes": 5,
    "imports": 6, "runs": 6,
    "exports": 7,
    "admin": 8, "management": 8,
}


def app_imports(path: Path) -> set[str]:
    """The app's top-level modules that ``path`` imports (``contactgroups.X...`` -> X)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] == "contactgroups":
                if len(parts) > 1:
                    names.add(parts[1])
                else:
                    names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "contactgroups" and len(parts) > 1:
                    names.add(parts[1])
    return names


def test_every_module_imports_only_from_the_floors_below_it():
    wrong = []
    for path in APP.rglob("*.py"):
        relative = path.relative_to(APP)
        if relative.parts[0] in ("migrations", "apps.py", "__init__.py"):
            continue
        own = relative.parts[0].removesuffix(".py")
        assert own in FLOORS, f"{relative}: give it a floor in this test and in docs/architecture.md"
        for name in app_imports(path) - {own}:
            if FLOORS.get(name, -1) >= FLOORS[own]:
                wrong.append(f"{relative} imports contactgroups.{name}")
    assert wrong == []


def test_the_chat_layer_loads_without_django():
    code = ("import sys; sys.modules['django'] = None; "
            "import contactgroups.chat.client, contactgroups.chat.sandbox, contactgroups.chat.usersig")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
