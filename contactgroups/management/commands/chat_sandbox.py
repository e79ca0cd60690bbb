"""Serve the local Chat sandbox (contactgroups.chat.sandbox) until SIGTERM or SIGINT."""

import argparse
import os
import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from contactgroups.chat.sandbox import DEFAULT_PAGE_SIZE, DEFAULT_TIMEOUT_SECONDS, SandboxServer
from contactgroups.conf import app_settings

# The control token can come from the environment, so it stays out of the process list.
CONTROL_TOKEN_ENV = "CHAT_SANDBOX_CONTROL_TOKEN"


def _codes(text: str) -> list[int]:
    try:
        return [int(code) for code in text.split(",") if code.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"integer codes separated by commas, not {text!r}") from exc


class Command(BaseCommand):
    help = (
        "Serve a local Tencent Cloud Chat REST API (conversation groups and accounts) for development, demos "
        "and tests, with the app's CHAT_SDKAPPID, CHAT_SECRET_KEY and CHAT_ADMIN_IDENTIFIER. "
        "Faults can be injected here or at run time through POST /__sandbox__/faults."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8081, help="Port to listen on (default 8081; 0 picks one).")
        parser.add_argument(
            "--state", default=None,
            help="JSON file that keeps the state across restarts (default: the CHAT_SANDBOX_STATE setting).",
        )
        parser.add_argument("--memory", action="store_true", help="Keep the state in memory only.")
        parser.add_argument("--latency-ms", type=float, default=0, help="Delay every answer this long.")
        parser.add_argument("--fail-rate", type=float, default=0.0,
                            help="Share of calls (0 to 1) answered with one of --fail-codes.")
        parser.add_argument("--fail-codes", type=_codes, default=[], help="Codes to fail with, e.g. 50004,50005.")
        parser.add_argument("--rate-limit", type=int, default=0,
                            help="Calls a second allowed per endpoint before answering 60007, never above the "
                                 "endpoint's documented rate; 200 gives Chat's own rates (0: no limit).")
        parser.add_argument("--page-size", type=int, default=DEFAULT_PAGE_SIZE,
                            help=f"Conversations a get_contact_group page (default {DEFAULT_PAGE_SIZE}).")
        parser.add_argument("--allowed-host", action="append", default=[], metavar="HOST[:PORT]",
                            help="Another Host name the control endpoints answer for (loopback names with the "
                                 "sandbox's port always work). Repeat for several.")
        parser.add_argument("--control-token", default=None,
                            help=f"Require this token (X-Sandbox-Token header) on /__sandbox__/* "
                                 f"(default: the {CONTROL_TOKEN_ENV} environment variable; unset: none).")
        parser.add_argument("--timeout-seconds", type=float, default=DEFAULT_TIMEOUT_SECONDS,
                            help="How long an injected timeout holds the request.")

    def handle(self, *args, **options):
        if not app_settings.CHAT_SDKAPPID or not app_settings.CHAT_SECRET_KEY or not app_settings.CHAT_ADMIN_IDENTIFIER:
            raise CommandError("Set CHAT_SDKAPPID, CHAT_SECRET_KEY and CHAT_ADMIN_IDENTIFIER (see .env.example).")
        state_path = None if options["memory"] else (options["state"] or app_settings.CHAT_SANDBOX_STATE)
        try:
            server = SandboxServer(
                app_settings.CHAT_SDKAPPID,
                app_settings.CHAT_SECRET_KEY,
                app_settings.CHAT_ADMIN_IDENTIFIER,
                host=options["host"],
                port=options["port"],
                state_path=state_path,
                latency_ms=options["latency_ms"],
                fail_rate=options["fail_rate"],
                fail_codes=options["fail_codes"],
                rate_limit=options["rate_limit"],
                page_size=options["page_size"],
                timeout_seconds=options["timeout_seconds"],
                allowed_hosts=options["allowed_host"],
                control_token=options["control_token"] or os.environ.get(CONTROL_TOKEN_ENV) or None,
            ).start()
        except (OSError, ValueError) as exc:
            raise CommandError(f"The Chat sandbox could not start: {exc}") from exc

        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        where = f"state in {state_path}" if state_path else "state in memory only"
        self.stdout.write(
            f"Chat sandbox listening on {server.base_url} "
            f"(SDKAppID {server.sdkappid}, admin {server.admin_identifier}, {where})"
        )
        self.stdout.flush()
        while not stop.wait(0.5):
            pass
        server.stop()
        self.stdout.write("Chat sandbox stopped" + (f"; state saved to {state_path}" if state_path else ""))
        self.stdout.flush()
