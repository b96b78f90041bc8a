"""A child server process bound to loopback: started with a log file, awaited until ready, always stopped."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def installed_command(name: str, package: str) -> str:
    """A console script of an installed package: beside this interpreter first (a venv need not be activated)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is missing: install the {package} package (`make test` or `make run` does)")
    return found


def http_status(url: str) -> int | None:
    """The status an HTTP GET gets (error statuses included), or None while nothing answers: for readiness polls."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def port_open(port: int, host: str = LOOPBACK) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class ServerProcess:
    """Owns one server process; ``ready`` is polled until it returns True or the deadline passes."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        ready: Callable[[], bool],
        env: dict[str, str] | None = None,
        ready_timeout_s: float = 60.0,
        inherit_env: bool = True,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._ready = ready
        self._env = {**(os.environ if inherit_env else {}), **(env or {})}
        self._ready_timeout_s = ready_timeout_s
        self._proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> ServerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        # A session of its own, so Ctrl-C in the terminal reaches us, and we stop the server in order.
        self._proc = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT, env=self._env, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + self._ready_timeout_s
        while not self._ready():
            if self._proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self._proc.returncode}; see {self.log_path}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"{self.name} not ready after {self._ready_timeout_s:.0f}s; see {self.log_path}")
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        """SIGKILL, as a crash would: used by fault tests."""
        if self._proc and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def stop(self, timeout_s: float = 15.0) -> None:
        if not self._proc or self._proc.poll() is not None:
            return
        self._proc.send_signal(signal.SIGTERM)
        try:
            self._proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
