"""What researchers read about money: burn-down charts that show a small spend, prices with their
currency and unit."""

from __future__ import annotations

import json
from typing import Any

from django.urls import reverse

from adapters.base import Price, PriceKind
from budgets.services import hold_reserve
from tests.workers.conftest import queued_job


def burn_down(html: str, budget_pk: int) -> dict[str, Any]:
    return json.loads(html.split(f'id="burn-{budget_pk}" type="application/json">')[1].split("</script>")[0])


def test_a_small_spend_is_visible_on_the_burn_down_chart(alice_client, cast):
    hold_reserve(job=queued_job(cast), budget=cast.qlab_budget, amount_micros=250_000)  # USD 0.25 of 100
    figure = burn_down(alice_client.get(reverse("budgets")).content.decode(), cast.qlab_budget.pk)
    ys = figure["data"][0]["y"]
    low, high = figure["layout"]["yaxis"]["range"]
    assert ys[0] == 100.0 and ys[-1] == 99.75
    # The drop spans most of the chart's height rather than a quarter of a per cent of it.
    assert (max(ys) - min(ys)) / (high - low) > 0.5
    assert low <= min(ys) and max(ys) <= high


def test_an_untouched_budget_draws_its_line_inside_the_chart(alice_client, cast):
    figure = burn_down(alice_client.get(reverse("budgets")).content.decode(), cast.qlab_budget.pk)
    low, high = figure["layout"]["yaxis"]["range"]
    assert low < 100.0 < high


def test_the_backends_page_shows_prices_with_currency_and_unit(alice_client):
    html = alice_client.get(reverse("backends")).content.decode()
    assert "USD 1.60 per QPU-second" in html
    assert " per second<" not in html and ">1.6 per" not in html


def test_prices_read_with_currency_and_unit():
    assert Price(PriceKind.PER_SECOND, per_second_micros=1_600_000).describe("USD") == "USD 1.60 per QPU-second"
    braket = Price(PriceKind.PER_TASK_SHOT, per_task_micros=300_000, per_shot_micros=1_450)
    assert braket.describe("EUR") == "EUR 0.30 per task + EUR 0.00145 per shot"
    sv1 = Price(PriceKind.PER_MINUTE, per_minute_micros=75_000, min_seconds=3)
    assert sv1.describe("USD") == "USD 0.075 per simulated minute (at least 3 s a task)"
