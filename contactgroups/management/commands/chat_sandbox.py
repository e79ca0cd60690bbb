"""Serve the local Chat sandbox (contactgroups.chat.sandbox) until SIGTERM or SIGINT; or take the running one's port
down (``stop``), bring it back (``start``) or say which it is (``status``)."""

import argparse
import os
import signal
import threading
import urllib.parse

from django.core.management.base import BaseCommand, CommandError

from contactgroups.chat.sandbox import DEFAULT_PAGE_SIZE, DEFAULT_TIMEOUT_SECONDS, SandboxServer, switch
from contactgroups.conf import app_settings
from contactgroups.engine import settle_loaded_objects

# The control token can come from the environment, so it stays out of the process list.
CONTROL_TOKEN_ENV = "CHAT_SANDBOX_CONTROL_TOKEN"
DEFAULT_PORT = 8081


def _codes(text: str) -> list[int]:
    try:
        return [int(code) for code in text.split(",") if code.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"integer codes separated by commas, not {text!r}") from exc


class Command(BaseCommand):
    help = (
        "Serve a local Tencent Cloud Chat REST API (conversation groups and accounts) for development, demos "
        "and tests, with the app's CHAT_SDKAPPID, CHAT_SECRET_KEY and CHAT_ADMIN_IDENTIFIER. "
        "Faults can be injected here or at run time through POST /__sandbox__/faults. "
        "`chat_sandbox stop` closes the running sandbox's port (calls to it are refused, as when Chat cannot be "
        "reached) while its process, state and faults stay; `chat_sandbox start` listens again; "
        "`chat_sandbox status` says which. They find the sandbox by --port (default: CHAT_API_BASE_URL's port)."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("action", nargs="?", choices=switch.ACTIONS,
                            help="Take the running sandbox's port down (stop), bring it back (start) or say which "
                                 "it is (status); without it, serve.")
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=None,
                            help=f"Port to listen on (default {DEFAULT_PORT}; 0 picks one); with stop, start or "
                                 f"status, the running sandbox's (default: CHAT_API_BASE_URL's port, else "
                                 f"{DEFAULT_PORT}).")
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
        if options["action"]:
            return self.switch(options["action"], options["port"])
        if not app_settings.CHAT_SDKAPPID or not app_settings.CHAT_SECRET_KEY or not app_settings.CHAT_ADMIN_IDENTIFIER:
            raise CommandError("Set CHAT_SDKAPPID, CHAT_SECRET_KEY and CHAT_ADMIN_IDENTIFIER (see .env.example).")
        state_path = None if options["memory"] else (options["state"] or app_settings.CHAT_SANDBOX_STATE)
        try:
            server = SandboxServer(
                app_settings.CHAT_SDKAPPID,
                app_settings.CHAT_SECRET_KEY,
                app_settings.CHAT_ADMIN_IDENTIFIER,
                host=options["host"],
                port=DEFAULT_PORT if options["port"] is None else options["port"],
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

        settle_loaded_objects()  # Chat stamps a call when it arrives: no long pause of ours may bunch arrivals
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        where = f"state in {state_path}" if state_path else "state in memory only"
        self.stdout.write(
            f"Chat sandbox listening on {server.base_url} "
            f"(SDKAppID {server.sdkappid}, admin {server.admin_identifier}, {where})"
        )
        try:
            switched = switch.Switch(server)
        except OSError as exc:
            switched = None
            self.stderr.write(f"`chat_sandbox stop` and `start` cannot reach this sandbox: {exc}")
        else:
            self.stdout.write(f"`manage.py chat_sandbox stop --port {server.port}` takes it down (connections "
                              f"refused) and `start` brings it back, this process staying up.")
        self.stdout.flush()
        while not stop.wait(0.5):
            pass
        if switched is not None:
            switched.close()
        server.stop()
        self.stdout.write("Chat sandbox stopped" + (f"; state saved to {state_path}" if state_path else ""))
        self.stdout.flush()

    def switch(self, action: str, port: int | None) -> None:
        """Send ``action`` to the sandbox serving on ``port`` and say what it answered."""
        if port is None:
            port = urllib.parse.urlsplit(app_settings.CHAT_API_BASE_URL).port or DEFAULT_PORT
        try:
            answer = switch.ask(port, action)
        except (ConnectionRefusedError, FileNotFoundError):
            raise CommandError(f"No Chat sandbox process serves port {port} here (make run starts one; so does "
                               f"`manage.py chat_sandbox --port {port}`).") from None
        except (OSError, ValueError) as exc:
            raise CommandError(f"The Chat sandbox on port {port} did not answer: {exc}") from None
        if "base_url" not in answer:
            raise CommandError(f"The Chat sandbox on port {port} refused: {answer.get('error')}")
        where = answer["base_url"]
        if answer.get("error"):
            raise CommandError(f"The Chat sandbox on {where} is still down: {answer['error']}")
        if answer["listening"]:
            self.stdout.write(f"The Chat sandbox on {where} is listening: calls to it are answered.")
        else:
            self.stdout.write(f"The Chat sandbox on {where} is down: calls to it are refused (connection refused), "
                              f"as when Chat cannot be reached. Its process, state and faults stay; "
                              f"`manage.py chat_sandbox start` brings it back.")
