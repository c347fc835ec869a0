from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from budgets.services.tokens import TOKEN_SCOPES, token_issue


class Command(BaseCommand):
    help = "Issue an API token for USERNAME. The token is printed alone on the last line, once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--scopes", default=",".join(TOKEN_SCOPES), help="comma list of read,submit,approve")
        parser.add_argument("--days", type=int, default=90, help="days until it expires (1..366)")
        parser.add_argument("--name", default="cli", help="a label shown on the Tokens page")

    def handle(self, *args: object, **options: object) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user named {options['username']!r}")
        scopes = [s.strip() for s in str(options["scopes"]).split(",") if s.strip()]
        try:
            token, secret = token_issue(user=user, scopes=scopes, days=int(options["days"]), name=str(options["name"]))
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(
            f"Token for {user.get_username()} with scopes {','.join(token.scopes)}, "
            f"expires {token.expires_at:%Y-%m-%d}. It is shown once; store it safely."
        )
        self.stdout.write(secret)
