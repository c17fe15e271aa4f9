"""`crm dev up --replicas`: counts per service, customers included (its firing engine
follows its projection's partitions, README, Operations)."""

from __future__ import annotations

import pytest
import typer

from services.cli import _replica_counts


def test_counts_per_service() -> None:
    assert _replica_counts(["delivery=3", "outreach=2"]) == {"delivery": 3, "outreach": 2}


@pytest.mark.parametrize("spec", ["delivery", "delivery=0", "delivery=x"])
def test_malformed_counts_are_refused(spec: str) -> None:
    with pytest.raises(typer.BadParameter):
        _replica_counts([spec])


def test_customers_runs_as_several_processes() -> None:
    assert _replica_counts(["customers=3", "delivery=2"]) == {"customers": 3, "delivery": 2}
