"""The running sandbox's switch: a local socket through which `chat_sandbox stop|start|status` takes its port down
and brings it back, the process and its state staying up.

A sandbox serving on port P listens for these requests on the Linux abstract Unix socket ``imadmin-chat-sandbox-P``
(no file is left behind, nothing is secret): it answers only a process of its own user (or root), the caller's user
id read from the kernel (``SO_PEERCRED``), so another account of the machine cannot take it down. A request is one
line, ``stop``, ``start`` or ``status``; the answer one JSON line, ``{"listening": bool, "base_url": ...}`` with
``"error"`` when the port could not be had again.
"""

import json
import os
import socket
import struct
import threading

ACTIONS = ("stop", "start", "status")
# How long a caller waits for the sandbox's answer (closing the port waits for the serving thread's poll).
ANSWER_SECONDS = 10.0
_UCRED = struct.Struct("3i")  # pid, uid, gid


def address(port: int) -> str:
    """The abstract socket's name of the sandbox serving on ``port`` (a leading NUL: not a file)."""
    return f"\0imadmin-chat-sandbox-{port}"


class Switch:
    """Answers ``stop``, ``start`` and ``status`` for ``server`` (a started ``SandboxServer``) in a daemon thread
    until ``close()``."""

    def __init__(self, server):
        self.server = server
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._socket.bind(address(server.port))
            self._socket.listen(4)
        except OSError:
            self._socket.close()
            raise
        self._thread = threading.Thread(target=self._serve, name="chat-sandbox-switch", daemon=True)
        self._thread.start()

    def close(self) -> None:
        try:
            self._socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._socket.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return  # closed
            with connection:
                try:
                    self._answer(connection)
                except OSError:
                    pass  # the caller went away

    def _answer(self, connection: socket.socket) -> None:
        _pid, uid, _gid = _UCRED.unpack(connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))
        connection.settimeout(ANSWER_SECONDS)
        action = connection.makefile("rb").readline(64).decode("ascii", "replace").strip()
        if uid not in (os.getuid(), 0):  # read first, so the caller has sent its line when it reads the refusal
            connection.sendall(b'{"error": "refused: another user"}\n')
            return
        answer = {}
        try:
            if action == "stop":
                self.server.stop_listening()
            elif action == "start":
                self.server.start_listening()
            elif action != "status":
                answer["error"] = f"unknown request {action!r}; one of {', '.join(ACTIONS)}"
        except OSError as exc:
            answer["error"] = f"port {self.server.port} could not be had again: {exc.strerror or exc}"
        answer.update(listening=self.server.listening, base_url=self.server.base_url)
        connection.sendall(json.dumps(answer).encode() + b"\n")


def ask(port: int, action: str) -> dict:
    """Send ``action`` to the sandbox serving on ``port`` and return its answer. ConnectionRefusedError or
    FileNotFoundError when no sandbox process serves that port."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(ANSWER_SECONDS)
        connection.connect(address(port))
        connection.sendall(action.encode("ascii") + b"\n")
        return json.loads(connection.makefile("rb").readline() or b'{"error": "no answer"}')
