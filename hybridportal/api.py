"""The REST API root: /api/v1, one NinjaAPI, one router per app.

Every route needs a bearer token with the route's scope or a signed-in session (`budgets.api_auth`),
is rate-limited per token, and fails with one JSON error shape (`hybridportal.api_errors`).
The schema is public at /api/v1/openapi.json (clients and code generators fetch it); the interactive
docs at /api/v1/docs are for signed-in users.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Swagger
from ninja.operation import Operation

from benchmarks.api import router as benchmarks_router
from budgets.api import router as budgets_router
from budgets.api_auth import READ, TokenRateThrottle
from hybridportal.api_errors import install_error_handlers
from jobs.api import router as jobs_router

DESCRIPTION = """\
Declare quantum problems, run them simulator-first under budget and approval control, and read back
reproducible results.

**Authentication.** `Authorization: Bearer <token>` (`manage.py issue_token USERNAME --scopes read,submit`
or the Tokens page). Scopes: `read` for every GET, `submit` to quote, submit and control jobs and to
create experiments, `approve` for the approver inbox. In the browser the signed-in session works too
(send `X-CSRFToken` on POST). Requests are rate-limited per token (429 with `Retry-After`).

**Idempotency.** `POST /jobs` and `POST /jobs/batch` require an `Idempotency-Key` header (1–255
printable ASCII; a UUID4 is ideal). The same key with the same body replays the stored response with
`Idempotent-Replayed: true`; the same key while the first request is still in flight answers 409
`idempotency_in_flight` (retry later); the same key with a different body answers 422
`idempotency_mismatch`. Keys are scoped to the user and kept for at least 24 hours.

**Batches.** `POST /jobs/batch` with `{"jobs": [<job>, ...]}` (each the body of `POST /jobs`, at
most `JOB_BATCH_MAX`, 500 by default) submits a parameter sweep in one transaction, all or nothing: 201
`{"jobs": [...]}` in request order, each job exactly as `POST /jobs` would have made it; a refused job
refuses the batch with its index in `field` (`jobs[3].shots`). One Idempotency-Key covers the batch.

**Errors.** Every failure is JSON `{"code", "message", "field", "detail"}`: `code` is stable, `field`
is the dotted path of the bad input (`params.n_qubits`) when there is one.

**Money** is a decimal string in the currency's major unit (`"0.35"`) next to a `currency` field.
Bitstrings in results put qubit 0 leftmost.
"""


class SignedInSwagger(Swagger):
    """Swagger UI for signed-in users only; anyone else is sent to the login page."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return super().render_page(request, api, **kwargs)


class PortalAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation: Operation) -> str:
        # `submit_job`, not `jobs_api_submit_job`: generated clients get readable method names.
        return operation.view_func.__name__


api = PortalAPI(
    title="Hybrid Portal API",
    version="1",
    urls_namespace="api-v1",
    description=DESCRIPTION,
    docs=SignedInSwagger(),
    auth=READ,  # the default; routes that change things name a stronger scope
    throttle=[TokenRateThrottle()],
)
install_error_handlers(api)
api.add_router("/", jobs_router)
api.add_router("/", budgets_router)
api.add_router("/", benchmarks_router)
