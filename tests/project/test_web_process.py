"""The web process loads only what serving the admin needs: the commands' machinery stays with the commands."""

import json
import os
import subprocess
import sys

from tests.services import ROOT

LOAD_THE_ADMIN = """
import json, sys
import django
django.setup()
import imadmin.urls
print(json.dumps([name for name in sys.modules if name.split(".")[0] in ("tqdm", "contactgroups")]))
"""


def test_the_admin_loads_neither_tqdm_nor_the_command_base():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    answer = subprocess.run([sys.executable, "-c", LOAD_THE_ADMIN], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert answer.returncode == 0, answer.stderr
    loaded = json.loads(answer.stdout.strip().splitlines()[-1])
    assert "contactgroups.admin" in loaded  # the admin was loaded
    assert "tqdm" not in loaded
    assert "contactgroups.management.base" not in loaded
