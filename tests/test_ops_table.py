"""The op table: every registered simulator op has a test case, and every case runs."""

import pytest

from capture_sim.ops import registered_ops
from tests.op_cases import all_cases


def test_every_registered_op_has_a_case() -> None:
    missing = sorted(set(registered_ops()) - set(all_cases()))
    assert not missing, f"ops without a test case in tests/op_cases: {missing}"


def test_every_case_names_a_registered_op() -> None:
    stale = sorted(set(all_cases()) - set(registered_ops()))
    assert not stale, f"test cases for ops that no longer exist: {stale}"


def test_an_unlisted_op_is_caught() -> None:
    """Negative control: registering an op without a case makes the table incomplete."""
    from capture_sim import ops

    @ops.register_op("test.unlisted_op")
    def _unlisted() -> None:
        return None

    try:
        assert "test.unlisted_op" in set(registered_ops()) - set(all_cases())
    finally:
        del ops._REGISTRY["test.unlisted_op"]


@pytest.mark.parametrize("name", sorted(all_cases()))
def test_op_case(name: str) -> None:
    all_cases()[name]()
