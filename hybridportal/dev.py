"""The README's two set-up commands, standard library only (it runs before anything is installed).

    python3.11 -m hybridportal.dev start   # install, migrate, seed demo data, serve web + workers
    python3.11 -m hybridportal.dev test    # install, lint, run every test

Installs a pinned, hashed lock file into .venv (again only when that lock file changed): `start` the
runtime lock (requirements.lock), `test` the development lock (requirements-dev.lock: the same runtime
pins plus the test and lint tools).
The browser tests drive Debian's chromium; `test` installs it with apt-get when it is missing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
RUNTIME_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))


def say(message: str) -> None:
    print(f"\033[1m==> {message}\033[0m", flush=True)


def run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    subprocess.run([str(a) for a in args], cwd=ROOT, check=True, env=env)


def ensure_venv(lock: Path) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs before the venv exists
        sys.exit(f"Python 3.11 or newer is needed, this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        say(f"creating {VENV.name}/ with Python {sys.version.split()[0]}")
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    stamp = VENV / f".{lock.name}-sha256"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    say(f"installing the pinned dependencies from {lock.name} (first run: a few minutes)")
    run(PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--require-hashes", "-r", lock)
    stamp.write_text(digest)


def ensure_chromium() -> None:
    if CHROMIUM.exists():
        return
    if shutil.which("apt-get") and os.geteuid() == 0:
        say("installing Debian's chromium for the browser tests (apt-get)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run("apt-get", "update", "-qq", env=env)
        run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium", env=env)
    elif shutil.which("apt-get") and shutil.which("sudo"):
        say("installing Debian's chromium for the browser tests (sudo apt-get)")
        run("sudo", "apt-get", "update", "-qq")
        run("sudo", "apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium")
    else:
        say(f"no chromium at {CHROMIUM}: browser tests will be skipped (install Debian's 'chromium')")


def manage(*args: str) -> None:
    run(PYTHON, "manage.py", *args)


def start(extra: list[str]) -> None:
    ensure_venv(RUNTIME_LOCK)
    say("migrating the database")
    manage("migrate", "--no-input", "-v", "0")
    manage("createcachetable")
    say("seeding demo data")
    manage("seed_demo")
    say("starting the web server and the worker clusters (Ctrl-C stops them all)")
    os.execv(  # noqa: S606
        PYTHON, [str(PYTHON), "manage.py", "serve", *extra]
    )


def test(extra: list[str]) -> None:
    ensure_venv(DEV_LOCK)
    ensure_chromium()
    say("ruff")
    run(PYTHON, "-m", "ruff", "check", ".")
    say(f"pytest on {'PostgreSQL' if os.environ.get('DATABASE_URL', '').startswith('postgres') else 'SQLite'}")
    os.execv(  # noqa: S606
        PYTHON, [str(PYTHON), "-m", "pytest", "--create-db", *extra]
    )


def main() -> None:
    commands = {"start": start, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit("usage: python3.11 -m hybridportal.dev start|test [args passed to serve / pytest]")
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
