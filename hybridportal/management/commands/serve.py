"""Run the web server and every worker cluster together; Ctrl-C (or SIGTERM) stops them all.

A child that exits on its own (a cluster killed, out of memory) is restarted, after a backoff that
grows while it keeps exiting soon after each start; the others keep running meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

CLUSTERS = ("interactive", "batch", "hardware")
# Restart delays: 1 s, doubling while a child exits within BACKOFF_RESET_SECONDS of its start, to 60 s.
BACKOFF_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
BACKOFF_RESET_SECONDS = 60.0


class Command(BaseCommand):
    help = "Serve the portal (gunicorn) and start the interactive, batch and hardware worker clusters."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--no-workers", action="store_true", help="web server only")

    def handle(self, *args: object, **options: object) -> None:
        root = Path(settings.BASE_DIR)
        python = sys.executable
        bind = f"{options['host']}:{options['port']}"
        web = [
            python,
            "-m",
            "gunicorn",
            "hybridportal.wsgi:application",
            "--bind",
            bind,
            "--workers",
            str(options["web_workers"]),
            "--threads",
            "4",
            "--access-logfile",
            "-",
            "--graceful-timeout",
            "5",
        ]
        children = [Child("web", web, root)]
        if not options["no_workers"]:
            qcluster = [python, "manage.py", "qcluster"]
            children += [Child(f"qcluster:{c}", qcluster, root, {"Q_CLUSTER_NAME": c}) for c in CLUSTERS]
        for child in children:
            child.start()
        self.stdout.write(self.style.SUCCESS(f"Hybrid Portal on http://{bind}/ — Ctrl-C stops everything"))

        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping:
            for child in children:
                message = child.supervise(time.monotonic())
                if message:
                    self.stderr.write(message)
            time.sleep(0.5)
        for child in children:
            child.terminate()
        deadline = time.monotonic() + 15
        for child in children:
            if not child.wait(max(0.1, deadline - time.monotonic())):
                self.stderr.write(f"{child.name} did not stop within 15 s; killing it")
            child.kill_group()


class Child:
    """One process `serve` keeps running: restarted when it exits on its own, after a backoff that
    doubles with each exit in quick succession (so a child that cannot start does not spin)."""

    def __init__(self, name: str, cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        self.name, self.cmd, self.cwd, self.env = name, cmd, cwd, env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.restart_at: float | None = None
        self.failures = 0

    def start(self) -> None:
        # Its own process group: the whole of it (a cluster's workers too) can be killed at once.
        env = {**os.environ, **self.env}
        self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, env=env, start_new_session=True)
        self.started = time.monotonic()

    def supervise(self, now: float) -> str | None:
        """Restart the child when it is due; notice that it exited. Returns a line for the log."""
        if self.restart_at is not None:
            if now < self.restart_at:
                return None
            self.restart_at = None
            self.start()
            return f"{self.name} restarted (pid {self.proc.pid if self.proc else '?'})"
        if self.proc is None or self.proc.poll() is None:
            return None
        code = self.proc.returncode
        # Whatever it left behind (a killed cluster master's sentinel and workers keep running and
        # pulling tasks) goes before a new one starts.
        self.kill_group()
        # Up for a while: a fresh failure. Exiting again soon after a restart: wait longer each time.
        self.failures = 1 if now - self.started > BACKOFF_RESET_SECONDS else self.failures + 1
        delay = min(BACKOFF_MAX_SECONDS, BACKOFF_SECONDS * 2 ** (self.failures - 1))
        self.restart_at = now + delay
        return f"{self.name} exited with {code}; restarting it in {delay:g} s"

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            # The master only: gunicorn's and each cluster's stop their own workers. A django-q2
            # master whose children get the signal too hangs in its exit handlers.
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> bool:
        if self.proc is None:
            return True
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def kill_group(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
