from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from budgets.models import ExperimentClass, Period, Team
from budgets.money import format_money, to_micros
from budgets.services.budgets import budget_set


class Command(BaseCommand):
    help = "Create or change a team's budget for one experiment class (amounts in major units, e.g. 12.50)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("team", help="team slug, e.g. qlab")
        parser.add_argument("experiment_class", help="class slug, e.g. vendor_comparison")
        parser.add_argument(
            "--limit", default=None, help="limit per period, e.g. 120.00 (required for a new budget; else kept)"
        )
        parser.add_argument("--period", choices=[p.value for p in Period], default=None)
        parser.add_argument("--approval-threshold", default=None, help="jobs costing more need sign-off")
        parser.add_argument("--max-tier", type=int, default=None, help="highest backend tier (0-3)")

    def handle(self, *args: object, **options: object) -> None:
        team = Team.objects.filter(slug=options["team"]).first()
        if team is None:
            slugs = ", ".join(Team.objects.values_list("slug", flat=True))
            raise CommandError(f"no team {options['team']!r}; teams: {slugs}")
        klass = ExperimentClass.objects.filter(slug=options["experiment_class"]).first()
        if klass is None:
            slugs = ", ".join(ExperimentClass.objects.values_list("slug", flat=True))
            raise CommandError(f"no experiment class {options['experiment_class']!r}; classes: {slugs}")
        try:
            limit = to_micros(str(options["limit"])) if options["limit"] is not None else None
            threshold = (
                to_micros(str(options["approval_threshold"])) if options["approval_threshold"] is not None else None
            )
            budget = budget_set(
                team=team,
                experiment_class=klass,
                limit_micros=limit,
                period=options["period"],  # type: ignore[arg-type]
                approval_threshold_micros=threshold,
                max_tier=options["max_tier"],  # type: ignore[arg-type]
            )
        except ValueError as exc:
            raise CommandError(f"--limit/--approval-threshold/--max-tier: {exc}") from exc
        self.stdout.write(
            f"{team.slug} / {klass.slug}: limit {format_money(budget.limit_micros)} {budget.period}, "
            f"approval above {format_money(budget.approval_threshold_micros)}, max tier {budget.max_tier}, "
            f"remaining {format_money(budget.remaining_micros)}"
        )
