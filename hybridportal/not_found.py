"""The portal's own 404 page in development too.

With DEBUG on, Django answers an unknown address, or a view's Http404 (another team's job looks
missing), with its technical page, which lists every URL pattern of the site. Users of a development
instance see the portal's page instead, with its navigation when they are signed in. The API keeps
its JSON errors (hybridportal.api_errors).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import Resolver404
from django.views.defaults import page_not_found

from hybridportal.api_errors import API_PREFIX


class PortalNotFoundMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # No route matched (the resolver never set resolver_match): Django's debug page answered.
        if response.status_code == 404 and request.resolver_match is None and self._applies(request):
            return page_not_found(request, Resolver404({"path": request.path_info}))
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Http404) and self._applies(request):
            return page_not_found(request, exception)
        return None

    @staticmethod
    def _applies(request: HttpRequest) -> bool:
        # Without DEBUG, Django's own handler already renders 404.html.
        return settings.DEBUG and not request.path.startswith(API_PREFIX)
