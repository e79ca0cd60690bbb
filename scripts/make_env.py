"""Write .env from .env.example for a local run, with freshly generated secrets.

Leaves an existing .env alone. Used by `make run`.
"""

import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    target = ROOT / ".env"
    if target.exists():
        return 0
    lines = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line == "SECRET_KEY=":
            line = f"SECRET_KEY={secrets.token_urlsafe(50)}"
        elif line == "CHAT_SECRET_KEY=":
            line = f"CHAT_SECRET_KEY={secrets.token_hex(32)}"
        lines.append(line)
    target.write_text("\n".join(lines) + "\n")
    target.chmod(0o600)
    print(f"Wrote {target.name} with new secrets (DEBUG on, Chat sandbox on 127.0.0.1:8081).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
