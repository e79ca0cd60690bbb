"""Write .env from .env.example for a local run: DEBUG on, freshly generated secrets.

Leaves an existing .env alone. Used by `make run`; the example itself keeps DEBUG off and holds no secret.
"""

import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What a local run changes in the example: lines of .env.example and what each becomes.
LOCAL_RUN_LINES = {
    "DEBUG=false": lambda: "DEBUG=true",
    "SECRET_KEY=": lambda: f"SECRET_KEY={secrets.token_urlsafe(50)}",
    "CHAT_SECRET_KEY=": lambda: f"CHAT_SECRET_KEY={secrets.token_hex(32)}",
}


def env_text(example: str) -> str:
    """The .env of a local run, made from the text of .env.example."""
    lines = [LOCAL_RUN_LINES[line]() if line in LOCAL_RUN_LINES else line for line in example.splitlines()]
    return "\n".join(lines) + "\n"


def main(root: Path = ROOT) -> int:
    target = root / ".env"
    if target.exists():
        return 0
    # Created readable by its owner only, before a secret is written into it.
    with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as stream:
        stream.write(env_text((root / ".env.example").read_text()))
    print(f"Wrote {target.name} with new secrets (DEBUG on, Chat sandbox on 127.0.0.1:8081).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
