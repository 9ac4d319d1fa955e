"""Property-based runs over the whole OpenAPI schema, stateless and stateful (following the document's links).

Every answer must fit its documented schema and never be a 5xx; a request that breaks the schema must be refused;
a request that fits it may be refused only for a reason the schema cannot state: those reasons are `DATA_DEPENDENT`
below and listed in the README ("What the schema cannot say").
"""

from __future__ import annotations

import os
import tempfile

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from service.config import Settings
from service.main import create_app
from service.migrate import upgrade
from tests.factories import ADMIN, ADMIN_KEY, Api

MAX_EXAMPLES = int(os.environ.get("EXPERTMATCH_FUZZ_EXAMPLES", "25"))
STATEFUL_STEPS = int(os.environ.get("EXPERTMATCH_FUZZ_STATEFUL_EXAMPLES", "40"))

# The schema is read at import, which runs the app's start-up: give it a throw-away database and no webhook
# worker, so that nothing runs against a file in the working directory; the test database is wired in per test.
SCHEMA_DB = f"sqlite:///{tempfile.mkdtemp(prefix='em-fuzz-')}/schema.db"
upgrade(SCHEMA_DB)
APP = create_app(
    Settings(
        database_url=SCHEMA_DB,
        admin_key=ADMIN_KEY,
        log_json=False,
        webhook_worker=False,
        _env_file=None,
    )
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)

# Why a schema-valid request may still be refused, by (status, problem code): nothing else is allowed.
DATA_DEPENDENT: dict[tuple[int, str], str] = {
    (404, "not-found"): "an id in the path names no record",
    (404, "http-404"): "an id in the path names no record",
    (409, "*"): "the records' state forbids it (an invariant of SPEC §2, a lifecycle move, a unique value taken)",
    (422, "invalid-input"): "a referenced record does not exist or a date is out of range for that record",
    (422, "credit-code"): "the credit code's check character is wrong (a checksum, not a pattern)",
    (422, "unreadable-file"): "an uploaded spreadsheet's content is not a readable table of that format",
    (
        422,
        "fen",
    ): "an amount in yuan has more than two decimals (JSON numbers are binary: multipleOf 0.01 is unreliable)",
    (422, "round-members"): "a round names its members or a closed round (supplementary_of), not both nor neither",
    (422, "team-lead-not-member"): "a team's lead_expert_id is not among its member_ids (as sent or as stored)",
}

ROUND_MEMBERS = ("supplementary round takes its members", "(or supplementary_of, a closed round)")


def rejection_reason(case, response) -> str | None:  # type: ignore[no-untyped-def]
    """Why a schema-valid request was refused, when that reason is one the schema cannot state; else None."""
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code", "") if isinstance(body, dict) else ""
    if response.status_code == 422 and code == "validation-error":
        errors = body.get("errors", [])
        if errors and all(e["field"].endswith("credit_code") and "check character" in e["message"] for e in errors):
            code = "credit-code"
        elif errors and all(e.get("type") == "decimal_max_places" for e in errors):
            code = "fen"
        elif errors and all(any(m in e["message"] for m in ROUND_MEMBERS) for e in errors):
            code = "round-members"
    return DATA_DEPENDENT.get((response.status_code, code)) or DATA_DEPENDENT.get((response.status_code, "*"))


def check_acceptance(case, response) -> None:  # type: ignore[no-untyped-def]
    """A positive (schema-valid) case may be refused only for a data-dependent reason."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code < 400:
        return
    reason = rejection_reason(case, response)
    assert reason is not None, (
        f"schema-valid request refused: {case.method} {case.formatted_path} {case.body!r} -> "
        f"{response.status_code} {response.text[:500]}"
    )


def excluded_checks(case) -> list:  # type: ignore[no-untyped-def]
    """Schemathesis checks left out: acceptance is ours (check_acceptance); negative data is the hostile suite's."""
    # KNOWN GAP of this harness: it sends the admin key over schemathesis's missing-Authorization cases, and list
    # routes take the last of repeated query parameters (FastAPI), so its negative cases give false alarms. Refusal
    # of schema-violating data is proven deterministically by tests/hardening/test_hostile_inputs.py instead.
    return [positive_data_acceptance, negative_data_rejection]


def wire(settings, engine) -> None:  # type: ignore[no-untyped-def]
    """Point the fuzzed app at the test database and give ids something to hit."""
    APP.state.settings = settings.model_copy(update={"auth_failure_limit": 0})
    APP.state.engine = engine
    APP.state._state.pop("auth_throttle", None)  # State keeps its attributes in _state, not __dict__
    api = Api(TestClient(APP))
    enterprise = api.enterprise()
    api.demand(enterprise["id"])
    expert = api.expert(conflicts=[enterprise["id"]])
    api.key("expert", expert_id=expert["id"])


@pytest.fixture
def _wired_app(settings, engine) -> None:
    wire(settings, engine)


@pytest.mark.slow
@pytest.mark.usefixtures("_wired_app")
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_produces_a_server_error_or_breaks_the_schema(case) -> None:
    # Server errors, status codes, headers, bodies and the refusal of schema-violating data are schemathesis's own
    # checks; the acceptance of schema-valid data is ours (it knows which refusals depend on stored data).
    response = case.call(headers=ADMIN)
    case.validate_response(response, excluded_checks=excluded_checks(case))
    check_acceptance(case, response)


REACHED: dict[str, set[int]] = {}


def stateful_machine():  # type: ignore[no-untyped-def]
    """A state machine over a schema of its own: link inference changes the schema it analyses, and the stateless
    test's schema must stay as the service serves it (sharing it made collection recurse on the larger document)."""
    stateful_schema = schemathesis.openapi.from_asgi("/openapi.json", APP)

    class StatefulMachine(stateful_schema.as_state_machine()):  # type: ignore[misc]
        """Chains calls through the document's links: a created record's id feeds every operation that takes it."""

        def get_call_kwargs(self, case):  # type: ignore[no-untyped-def]
            return {"headers": ADMIN}

        def validate_response(self, response, case, additional_checks=None, **kwargs):  # type: ignore[no-untyped-def]
            REACHED.setdefault(f"{case.method} {case.path}", set()).add(response.status_code)
            case.validate_response(response, excluded_checks=excluded_checks(case), transport_kwargs=kwargs)
            check_acceptance(case, response)

    return StatefulMachine


@pytest.mark.slow
def test_stateful_runs_reach_every_route_without_errors(settings, engine) -> None:
    wire(settings, engine)
    REACHED.clear()
    stateful_machine().run(settings=settings_for_stateful())
    # Which operations answered what is in REACHED; tests/hardening/test_openapi_links.py follows the links by hand.


def settings_for_stateful():  # type: ignore[no-untyped-def]
    return settings(
        max_examples=STATEFUL_STEPS,
        stateful_step_count=8,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
