"""A development instance (DEBUG on) answers a missing page with the portal's own 404 page, never
Django's debug page that lists every URL pattern."""

from __future__ import annotations

from django.test import Client


def test_an_unknown_address_shows_the_portals_404_page_in_development(settings, alice_client):
    settings.DEBUG = True
    response = alice_client.get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "Not found" in html and "/no-such-page/" in html
    assert 'aria-label="Main"' in html  # the portal's navigation, for the signed-in user
    assert "URLconf" not in html and "admin/" not in html  # no list of URL patterns


def test_another_teams_job_is_the_same_404_page_in_development(settings, carol_client, ghz_job):
    settings.DEBUG = True
    response = carol_client.get(f"/jobs/{ghz_job.pk}/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Not found" in html and "Traceback" not in html and "Raised by" not in html


def test_a_signed_out_visitor_is_offered_the_sign_in(settings, db):
    settings.DEBUG = True
    html = Client().get("/no-such-page/").content.decode()
    assert "Sign in" in html and "URLconf" not in html


def test_the_api_still_answers_json_for_an_unknown_route(settings, alice_client):
    settings.DEBUG = True
    response = alice_client.get("/api/v1/no-such-route")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
