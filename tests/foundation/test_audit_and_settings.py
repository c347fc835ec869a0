import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from budgets.models import AuditEvent
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def test_sign_in_and_failed_sign_in_are_audited_without_the_password(client, cast):
    client.post("/accounts/login/", {"username": "alice", "password": "not-her-password"})
    assert client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    failed = AuditEvent.objects.get(action="auth.login_failed")
    assert failed.target == "username:alice"
    assert "not-her-password" not in str(failed.detail)
    assert AuditEvent.objects.filter(action="auth.login", actor=cast.alice).exists()


def test_every_page_needs_a_login(client, db):
    response = client.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_sqlite_runs_in_wal_mode_so_workers_and_web_do_not_lock_each_other(db):
    if connection.vendor != "sqlite":
        pytest.skip("WAL applies to the SQLite default only")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"


def _settings_in_subprocess(env: dict[str, str], code: str = "") -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS"}}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "hybridportal.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _settings_in_subprocess({"HYBRIDPORTAL_ENV": "production", "ALLOWED_HOSTS": "portal.example.org"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_worker_retry_must_exceed_timeout():
    result = _settings_in_subprocess({"Q_TIMEOUT": "600", "Q_RETRY": "600"})
    assert result.returncode != 0
    assert "Q_RETRY must exceed Q_TIMEOUT" in result.stderr


def test_a_heartbeat_stale_limit_shorter_than_three_beats_is_refused():
    result = _settings_in_subprocess({"JOB_HEARTBEAT_SECONDS": "5", "JOB_HEARTBEAT_STALE_SECONDS": "10"})
    assert result.returncode != 0
    assert "JOB_HEARTBEAT_STALE_SECONDS (10) must be at least three times JOB_HEARTBEAT_SECONDS (5)" in result.stderr


def test_prepared_statements_can_be_turned_off_for_a_pooler():
    show = "from django.conf import settings; print(settings.DATABASES['default'].get('OPTIONS', {}))"
    url = {"DATABASE_URL": "postgres://portal@db.invalid:5432/portal"}
    assert "'prepare_threshold': 5" in _settings_in_subprocess(url, show).stdout
    assert "prepare_threshold" not in _settings_in_subprocess({**url, "DB_PREPARE_THRESHOLD": "off"}, show).stdout
    refused = _settings_in_subprocess({**url, "DB_PREPARE_THRESHOLD": "often"})
    assert refused.returncode != 0
    assert "DB_PREPARE_THRESHOLD must be a whole number of runs or off, not 'often'" in refused.stderr
