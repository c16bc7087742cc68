"""An honest OpenAPI schema: a bounded schemathesis run over EVERY operation the schema lists (its stateless
examples and its stateful phase, links inferred by schemathesis), on PostgreSQL, as a superuser (every role)
with real data behind the ids: 0 server errors and 0 schema violations.

Bounded: QEVAL_SCHEMATHESIS_EXAMPLES examples per operation (default 10) and QEVAL_SCHEMATHESIS_STEPS stateful
steps (default 60), derandomized, so a run takes about a minute and repeats exactly.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, given, settings

pytestmark = pytest.mark.django_db(transaction=True)  # the WSGI app closes its connection after each request

from tests.mos.conftest import rated, version  # noqa: E402,F401  (fixtures: a campaign with a version)

EXAMPLES = int(os.environ.get("QEVAL_SCHEMATHESIS_EXAMPLES", "10"))
STEPS = int(os.environ.get("QEVAL_SCHEMATHESIS_STEPS", "60"))
HYPOTHESIS = dict(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _checks():
    from schemathesis.checks import load_all_checks, not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    load_all_checks()
    return [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        response_headers_conformance,
    ]


@pytest.fixture
def api(db, client_as, version, django_db_blocker):
    """The schema served by the app itself, a superuser's token, and data for the ids to point at."""
    import schemathesis

    from annotation.services.users import user_token
    from core.api.lean_dispatch import LeanWSGIHandler
    from tests.factories import UserFactory

    admin = UserFactory(role=None, is_superuser=True, is_staff=True)
    token = user_token(user=admin)
    app = LeanWSGIHandler()  # what config/wsgi.py serves: the fast lane too meets the fuzzed requests
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app)
    return schema, {"Authorization": f"Token {token}"}, _real_ids(version, admin)


def _real_ids(version, admin) -> dict[str, object]:
    """Ids of real rows for every path parameter, so that each operation is also tried on something that exists."""
    from annotation.models import Batch, Item, Job, Task
    from generation.models import PromptSet, Taxonomy

    campaign = version.campaign
    batch = Batch.objects.filter(campaign=campaign).first()
    assert batch is not None, "the fixture campaign has batches"
    task = Task.objects.create(
        batch=batch,
        item=Item.objects.filter(campaign=campaign).first(),  # type: ignore[misc]
        annotator=batch.annotator,
        lease_expires_at=batch.created_at,
    )
    job = Job.objects.create(kind="selfcheck", created_by=admin, status="succeeded")
    taxonomy = Taxonomy.objects.create(slug="tax-1", name="tax 1", campaign=campaign)
    prompt_set = PromptSet.objects.create(campaign=campaign, slug="set-1", name="set 1", taxonomy=taxonomy)
    return {
        "slug": campaign.slug,
        "version_id": version.pk,
        "batch_id": batch.pk,
        "task_id": task.pk,
        "item_id": task.item_id,
        "job_id": job.pk,
        "user_id": batch.annotator_id,
        "set_slug": prompt_set.slug,
    }


def _with_real_ids(case, ids):
    if not case.path_parameters or not any(k in ids for k in case.path_parameters):
        return None
    real = case.operation.Case(
        path_parameters={k: ids.get(k, v) for k, v in case.path_parameters.items()},
        query=case.query,
        body=case.body,
        headers=case.headers,
        media_type=case.media_type,
    )
    return real


def _describe(op, exc) -> str:
    text = " ".join(str(exc).split())
    return f"{op.method.upper()} {op.path}: {text[:600]}"


def test_every_operation_answers_as_the_schema_says(api):
    schema, headers, ids = api
    checks = _checks()
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 45  # the whole API, not a corner of it
    for op in operations:

        @settings(**HYPOTHESIS)
        @given(case=op.as_strategy())
        def run(case):
            for one in filter(None, (case, _with_real_ids(case, ids))):
                response = one.call(headers=headers)
                one.validate_response(response, checks=checks, headers=headers)

        try:
            run()
        except (
            Exception,
            BaseExceptionGroup,
        ) as exc:  # schemathesis raises one FailureGroup per operation with every check that failed
            failures[f"{op.method.upper()} {op.path}"] = _describe(op, exc)
    assert not failures, f"{len(failures)} operations disagree with the schema:\n" + "\n".join(failures.values())


def test_the_stateful_phase_finds_no_server_error_or_violation(api):
    from hypothesis.stateful import run_state_machine_as_test

    schema, headers, _ids = api
    checks = _checks()
    Machine = schema.as_state_machine()
    calls: list[str] = []
    # Links inferred between operations (a POST's answer feeding the next call's ids): the phase has work to do.
    assert Machine.root_rules, "schemathesis inferred no links: the stateful phase would test nothing"

    class WithAuth(Machine):
        def get_call_kwargs(self, case):
            return {"headers": headers}

        def validate_response(self, response, case, additional_checks=(), **kwargs):
            calls.append(f"{case.method} {case.path} {response.status_code}")
            case.validate_response(response, checks=checks, headers=headers)

    run_state_machine_as_test(
        WithAuth,
        settings=settings(
            max_examples=max(2, STEPS // 10),
            stateful_step_count=10,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    assert len(calls) >= STEPS // 2, calls
    assert any(c.split()[-1].startswith("2") for c in calls), calls  # some steps reached real objects
