"""A faithful local Tencent Cloud Chat REST server for development, demos and tests (see docs/sandbox.md)."""

from contactgroups.chat.sandbox.faults import DEFAULT_TIMEOUT_SECONDS
from contactgroups.chat.sandbox.server import SandboxServer
from contactgroups.chat.sandbox.service import CALL_LOG_MAX
from contactgroups.chat.sandbox.state import DEFAULT_PAGE_SIZE

__all__ = ["CALL_LOG_MAX", "DEFAULT_PAGE_SIZE", "DEFAULT_TIMEOUT_SECONDS", "SandboxServer"]
