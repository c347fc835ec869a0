"""Run the web server and every worker cluster together; Ctrl-C (or SIGTERM) stops them all."""

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
        children: list[tuple[str, subprocess.Popen[bytes]]] = []

        def spawn(name: str, cmd: list[str], env: dict[str, str] | None = None) -> None:
            proc = subprocess.Popen(cmd, cwd=root, env={**os.environ, **(env or {})}, start_new_session=True)
            children.append((name, proc))

        bind = f"{options['host']}:{options['port']}"
        spawn(
            "web",
            [
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
            ],
        )
        if not options["no_workers"]:
            for cluster in CLUSTERS:
                spawn(f"qcluster:{cluster}", [python, "manage.py", "qcluster"], {"Q_CLUSTER_NAME": cluster})
        self.stdout.write(self.style.SUCCESS(f"Hybrid Portal on http://{bind}/ — Ctrl-C stops everything"))

        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, proc in children:
                if proc.poll() is not None:
                    self.stderr.write(f"{name} exited with {proc.returncode}; stopping the rest")
                    exit_code = proc.returncode or 1
                    stopping = True
                    break
            time.sleep(0.5)
        for _, proc in children:
            if proc.poll() is None:
                # The master only: gunicorn's and each cluster's stop their own workers. A django-q2
                # master whose children get the signal too hangs in its exit handlers.
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for name, proc in children:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop within 15 s; killing it")
            with contextlib.suppress(ProcessLookupError):  # whatever is left of its process group
                os.killpg(proc.pid, signal.SIGKILL)
        sys.exit(exit_code)
