"""benchmarks/cluster_capacity.py's capacity search, against a fake measurement: it must land on
the largest level that holds, within the resolution asked, and stay inside its time budget."""

from __future__ import annotations

import pytest

from benchmarks.cluster_capacity import capacity_search


def _measure(capacity: int, calls: list[int], errors_from: int | None = None):
    def measure(level: int) -> dict:
        calls.append(level)
        errors = 1 if errors_from is not None and level >= errors_from else 0
        return {"streams": level, "errors": errors, "ttft_added_p95_ms": 10.0 if level <= capacity else 40.0}

    return measure


@pytest.mark.parametrize(("capacity", "held", "failed"), [(37, 35, 40), (150, 150, 155), (7, 5, 10), (3, None, 5)])
def test_doubles_then_bisects_to_the_resolution(capacity, held, failed):
    calls: list[int] = []
    result = capacity_search(_measure(capacity, calls), start=10, limit=400, target_ms=25, resolution=5, budget_s=60)
    assert (result["held"] and result["held"]["streams"]) == held
    assert result["failed"]["streams"] == failed
    assert result["resolved"]
    assert len(calls) == len(set(calls)), "no level is measured twice"


def test_a_level_with_errors_fails_however_fast_it_was():
    calls: list[int] = []
    result = capacity_search(_measure(1000, calls, errors_from=30), start=10, limit=400, target_ms=25, resolution=5,
                             budget_s=60)
    assert result["held"]["streams"] == 25 and result["failed"]["streams"] == 30


def test_the_limit_ends_the_climb_when_everything_holds():
    calls: list[int] = []
    result = capacity_search(_measure(10_000, calls), start=10, limit=100, target_ms=25, resolution=5, budget_s=60)
    assert result["held"]["streams"] == 100 and result["failed"] is None and result["resolved"]
    assert calls == [10, 20, 40, 80, 100]


def test_a_spent_budget_reports_the_bracket_unresolved():
    calls: list[int] = []
    result = capacity_search(_measure(37, calls), start=10, limit=400, target_ms=25, resolution=5, budget_s=0)
    assert calls == [] and result["held"] is None and not result["resolved"]
