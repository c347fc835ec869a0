"""Demo teams, users, budgets and experiments. Safe to run again: it changes nothing that exists,
and prints the demo passwords (kept in var/, outside the repo) so the README's command shows them."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from budgets.models import Budget, ExperimentClass, Membership, Role, Team
from budgets.money import to_micros
from budgets.services.budgets import budget_set
from jobs.models import Experiment

EXPERIMENT_CLASSES = [
    ("algorithm_validation", "Algorithm validation", "Check an algorithm on simulators before spending."),
    ("vendor_comparison", "Vendor comparison", "Run the same problems across backends and vendors."),
    ("calibration_study", "Calibration study", "Track device noise and calibration drift."),
    ("executive_demo", "Executive demo", "Small, visible runs for demonstrations."),
]
TEAMS = [("qlab", "Quantum Lab"), ("optics", "Optics Group")]
USERS = [  # username, team, role, superuser
    ("alice", "qlab", Role.RESEARCHER, False),
    ("bob", "qlab", Role.APPROVER, False),
    ("carol", "optics", Role.RESEARCHER, False),
    ("admin", None, None, True),
]
# class slug → (limit, approval threshold, max tier)
BUDGETS = {
    "algorithm_validation": ("50.00", "5.00", 3),
    "vendor_comparison": ("500.00", "20.00", 3),
    "calibration_study": ("200.00", "10.00", 3),
    "executive_demo": ("25.00", "2.00", 3),
}


def _password_file() -> Path:
    return Path(settings.VAR_DIR) / "demo-passwords.txt"


class Command(BaseCommand):
    help = "Create the demo teams (qlab, optics), users (alice, bob, carol, admin), budgets and experiments."

    def handle(self, *args: object, **options: object) -> None:
        passwords = self._load_passwords()
        with transaction.atomic():
            classes = {}
            for slug, name, description in EXPERIMENT_CLASSES:
                classes[slug], _ = ExperimentClass.objects.get_or_create(
                    slug=slug, defaults={"name": name, "description": description}
                )
            teams = {}
            for slug, name in TEAMS:
                teams[slug], _ = Team.objects.get_or_create(slug=slug, defaults={"name": name})
            User = get_user_model()
            for username, team_slug, role, superuser in USERS:
                user = User.objects.filter(username=username).first()
                if user is None or not user.check_password(passwords.get(username, "")):
                    passwords[username] = secrets.token_urlsafe(12)
                if user is None:
                    user = User(username=username, email=f"{username}@example.org")
                user.is_staff = user.is_superuser = superuser
                user.set_password(passwords[username])
                user.save()
                if team_slug:
                    Membership.objects.get_or_create(user=user, team=teams[team_slug], defaults={"role": role})
            for team in teams.values():
                for slug, (limit, threshold, max_tier) in BUDGETS.items():
                    if not Budget.objects.filter(team=team, experiment_class=classes[slug]).exists():
                        budget_set(
                            team=team,
                            experiment_class=classes[slug],
                            limit_micros=to_micros(limit),
                            approval_threshold_micros=to_micros(threshold),
                            max_tier=max_tier,
                        )
                    Experiment.objects.get_or_create(
                        team=team,
                        name=classes[slug].name,
                        defaults={
                            "experiment_class": classes[slug],
                            "description": f"Demo experiment for {classes[slug].name.lower()}.",
                        },
                    )
        self._save_passwords(passwords)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Sign in as:"))
        for username, team_slug, role, superuser in USERS:
            what = "superuser (Django admin at /admin/)" if superuser else f"{role} in {team_slug}"
            self.stdout.write(f"  {username:<6} password: {passwords[username]}   {what}")

    def _load_passwords(self) -> dict[str, str]:
        path = _password_file()
        if not path.exists():
            return {}
        pairs = (line.split(" ", 1) for line in path.read_text().splitlines() if " " in line)
        return {user: password for user, password in pairs}

    def _save_passwords(self, passwords: dict[str, str]) -> None:
        path = _password_file()
        path.write_text("".join(f"{user} {password}\n" for user, password in sorted(passwords.items())))
        path.chmod(0o600)
