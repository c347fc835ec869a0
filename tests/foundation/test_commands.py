import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from budgets.models import ApiToken, Budget, Membership, Team
from budgets.services import token_authenticate
from jobs.models import Experiment


@pytest.fixture
def var_dir(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    return tmp_path


def test_seed_demo_creates_the_cast_and_prints_working_passwords(db, var_dir, capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert set(Team.objects.values_list("slug", flat=True)) == {"qlab", "optics"}
    User = get_user_model()
    for line in out.splitlines()[1:]:
        username, _, password = line.split()[:3]
        assert User.objects.get(username=username).check_password(password)
    assert Membership.objects.get(user__username="bob").role == "approver"
    assert User.objects.get(username="admin").is_superuser
    assert Budget.objects.filter(team__slug="qlab").count() == 4
    assert Experiment.objects.filter(team__slug="optics").count() == 4


def test_seed_demo_twice_changes_nothing_and_keeps_passwords(db, var_dir, capsys):
    call_command("seed_demo")
    first = capsys.readouterr().out
    call_command("seed_demo")
    second = capsys.readouterr().out
    assert first == second
    assert Budget.objects.count() == 8
    assert Experiment.objects.count() == 8


def test_issue_token_prints_a_working_token_alone_on_the_last_line(cast, capsys):
    call_command("issue_token", "alice", "--scopes", "read,submit", "--days", "7")
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    token = token_authenticate(secret)
    assert token is not None and token.user == cast.alice
    assert token.scopes == ["read", "submit"]
    assert secret not in str(ApiToken.objects.values_list("token_hash", flat=True)[0])


def test_issue_token_refuses_unknown_scope(cast):
    with pytest.raises(CommandError, match="unknown scope"):
        call_command("issue_token", "alice", "--scopes", "read,admin")


def test_set_budget_changes_limit_threshold_and_tier(cast, capsys):
    call_command(
        "set_budget",
        "qlab",
        "algorithm_validation",
        "--limit",
        "12.50",
        "--approval-threshold",
        "1.25",
        "--max-tier",
        "2",
    )
    budget = Budget.objects.get(team=cast.qlab, experiment_class=cast.klass)
    assert (budget.limit_micros, budget.approval_threshold_micros, budget.max_tier) == (12_500_000, 1_250_000, 2)
    assert "remaining USD 12.50" in capsys.readouterr().out


def test_set_budget_names_the_unknown_team(cast):
    with pytest.raises(CommandError, match="no team 'nope'"):
        call_command("set_budget", "nope", "algorithm_validation", "--limit", "1")
