"""Consumer-group names: one per consumer, under the topic prefix, and the ones the
alert rules' tests name are real groups."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.shared import groups
from services.shared.settings import Settings

ALERT_TESTS = Path(__file__).resolve().parents[3] / "deploy" / "prometheus" / "tests"


def test_every_group_has_its_own_name() -> None:
    names = [named(Settings(topic_prefix="")) for named in groups.ALL]
    assert len(set(names)) == len(names)
    assert all(name.startswith("crm-") for name in names)


def test_names_are_kept_as_the_workers_have_committed_under() -> None:
    settings = Settings(topic_prefix="")
    assert groups.outreach(settings) == "crm-outreach"
    assert groups.outreach_permissions(settings) == "crm-outreach-permissions"
    assert groups.delivery(settings) == "crm-delivery"
    assert groups.delivery_performance(settings) == "crm-delivery-performance"
    assert groups.eligibility(settings) == "crm-eligibility"
    assert groups.customers_firing(settings) == "crm-customers-firing"
    assert groups.quota(settings) == "crm-quota"


@pytest.mark.parametrize("named", groups.ALL)
def test_a_topic_prefix_gives_a_test_its_own_groups(named) -> None:  # type: ignore[no-untyped-def]
    plain, prefixed = named(Settings(topic_prefix="")), named(Settings(topic_prefix="t1."))
    assert prefixed == f"t1.{plain}"


def test_each_worker_has_a_main_group() -> None:
    assert set(groups.OF_WORKER) == {"outreach", "delivery", "eligibility", "customers", "quota"}
    assert all(named in groups.ALL for named in groups.OF_WORKER.values())


def test_the_alert_rules_tests_name_real_groups() -> None:
    known = {named(Settings(topic_prefix="")) for named in groups.ALL}
    named_in_tests = {
        found
        for path in ALERT_TESTS.glob("*.yml")
        for found in re.findall(r'group[=:]\s*"?(crm-[a-z-]+)', path.read_text())
    }
    assert named_in_tests, "the alert tests name no group: the pattern is stale"
    assert named_in_tests <= known
