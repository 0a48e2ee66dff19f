"""API fuzzing from the service's own OpenAPI spec (schemathesis + hypothesis, bounded): whatever the generated
request, the service answers without a 5xx, every error has the {"error": {"code", "message"}} shape, and the
fuzzing stores no report (fuzzed reports cannot carry a valid signature)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.service_fixtures import Live, live  # noqa: F401

EXAMPLES_PER_OPERATION = 15


def test_fuzz_every_operation(live: Live) -> None:  # noqa: F811
    spec = live.client.get("/openapi.json")
    assert spec["components"]["schemas"]["EdgeReport"]["required"]  # the report body is the conformance schema
    schema = schemathesis.openapi.from_dict(spec)
    reports_before = live.counts()["reports"]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/sessions", "/v1/sessions/{session_id}/report", "/v1/clusters"}
    seen: dict[int, int] = {}
    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            response = case.call(base_url=live.url, session=live.client.http)
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:300]}"
            if response.status_code >= 400:
                error = response.json()["error"]
                assert error["code"]
                assert error["message"]

        run()
    print("status codes seen:", dict(sorted(seen.items())))
    assert sum(seen.values()) >= len(operations) * 5
    assert any(code >= 400 for code in seen)  # the fuzzer did reach the refusal paths
    assert live.counts()["reports"] == reports_before
