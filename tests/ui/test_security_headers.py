"""Every page carries a Content-Security-Policy that allows only the portal's own files."""

from __future__ import annotations


def directives(response) -> dict[str, list[str]]:  # noqa: ANN001
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


def test_pages_allow_only_the_portals_own_scripts_and_styles(alice_client, finished_job):
    for path in ("/", "/submit/", f"/jobs/{finished_job.pk}/", "/budgets/", "/accounts/login/"):
        policy = directives(alice_client.get(path))
        assert policy["default-src"] == ["'self'"], path
        assert policy["script-src"] == ["'self'"], path  # no inline script, no eval
        assert policy["style-src"] == ["'self'"], path  # no inline style either
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]


def test_pages_have_no_inline_scripts_or_style_attributes(alice_client, finished_job):
    for path in ("/", "/submit/", f"/jobs/{finished_job.pk}/", "/budgets/", "/backends/", "/approvals/"):
        html = alice_client.get(path).content.decode()
        assert 'style="' not in html, path
        scripts = html.split("<script")[1:]
        assert all(" src=" in s.split(">")[0] or 'type="application/json"' in s.split(">")[0] for s in scripts), path


def test_the_admin_has_the_portals_favicon(cast, client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.org", "x" * 16)
    client.force_login(admin)
    html = client.get("/admin/").content.decode()
    assert 'rel="icon"' in html and "img/favicon.svg" in html
