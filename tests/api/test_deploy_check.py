"""Production settings pass Django's deployment checklist with warnings treated as failures."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

from django.conf import settings


def test_manage_py_check_deploy_passes_with_production_settings(tmp_path):
    # The test run's own switches (tests/conftest.py allows async-unsafe ORM calls) are not production's.
    test_only = {"DATABASE_URL", "DEBUG", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {
        **{k: v for k, v in os.environ.items() if k not in test_only},
        "HYBRIDPORTAL_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "portal.example.org",
        "HYBRIDPORTAL_VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
