"""Write .env from .env.example for a local run: DEBUG on, freshly generated secrets, the sandbox's port.

Used by `make run`. The Chat sandbox's address in .env is the one `make run` starts it on (SANDBOX_PORT, default
8081), so the commands run from another terminal reach it: written into a new .env, and set again in an existing
.env whose CHAT_API_BASE_URL is a sandbox on this machine at another port. Anything else in an existing .env is
left alone. The example itself keeps DEBUG off and holds no secret.
"""

import os
import re
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SANDBOX_PORT = "8081"
# CHAT_API_BASE_URL pointing at a sandbox on this machine (the only kind this script ever sets again).
LOCAL_SANDBOX = re.compile(r"^CHAT_API_BASE_URL=http://(?:127\.0\.0\.1|localhost):(\d+)/?$", re.MULTILINE)


def sandbox_url(port: str) -> str:
    return f"http://127.0.0.1:{port}"


def env_text(example: str, sandbox_port: str = DEFAULT_SANDBOX_PORT) -> str:
    """The .env of a local run, made from the text of .env.example."""
    # What a local run changes in the example: lines of .env.example and what each becomes.
    local_run_lines = {
        "DEBUG=false": lambda: "DEBUG=true",
        "SECRET_KEY=": lambda: f"SECRET_KEY={secrets.token_urlsafe(50)}",
        "CHAT_SECRET_KEY=": lambda: f"CHAT_SECRET_KEY={secrets.token_hex(32)}",
    }
    lines = [local_run_lines[line]() if line in local_run_lines else line for line in example.splitlines()]
    return LOCAL_SANDBOX.sub(f"CHAT_API_BASE_URL={sandbox_url(sandbox_port)}", "\n".join(lines) + "\n")


def main(root: Path = ROOT, environ: Mapping[str, str] = os.environ) -> int:
    port = environ.get("SANDBOX_PORT") or DEFAULT_SANDBOX_PORT
    if not port.isdigit():
        print(f"SANDBOX_PORT must be a port number, not {port!r}.", file=sys.stderr)
        return 2
    target = root / ".env"
    if target.exists():
        text = target.read_text()
        found = LOCAL_SANDBOX.search(text)
        if found and found.group(1) != port:
            target.write_text(LOCAL_SANDBOX.sub(f"CHAT_API_BASE_URL={sandbox_url(port)}", text))
            print(f"Set CHAT_API_BASE_URL in {target.name} to {sandbox_url(port)}, where the Chat sandbox starts "
                  f"(it was on port {found.group(1)}).")
        return 0
    # Created readable by its owner only, before a secret is written into it.
    with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as stream:
        stream.write(env_text((root / ".env.example").read_text(), port))
    print(f"Wrote {target.name} with new secrets (DEBUG on, Chat sandbox on 127.0.0.1:{port}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
