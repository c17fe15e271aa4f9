from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.shared.settings import DEV_JWT_SECRET, Settings


def test_development_defaults_match_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "CRM_KAFKA_BOOTSTRAP",
        "CRM_REDIS_URL",
        "CRM_API_PORT",
        "CRM_JWT_SECRET",
        "CRM_ENV",
    ):
        monkeypatch.delenv(name, raising=False)
    s = Settings()
    assert s.kafka_bootstrap == "localhost:9092"
    assert s.redis_url == "redis://localhost:6379/0"
    assert s.api_port == 8080
    assert s.jwt_secret.get_secret_value() == DEV_JWT_SECRET


def test_values_come_from_crm_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_KAFKA_BOOTSTRAP", "broker:29092")
    monkeypatch.setenv("CRM_API_PORT", "9090")
    monkeypatch.setenv("CRM_TOPIC_PREFIX", "t1.")
    s = Settings()
    assert (s.kafka_bootstrap, s.api_port) == ("broker:29092", 9090)
    assert s.topic("crm.seller-metrics") == "t1.crm.seller-metrics"
    assert s.logical_topic("t1.crm.seller-metrics") == "crm.seller-metrics"


def test_jwt_secret_is_required_outside_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_ENV", "production")
    monkeypatch.delenv("CRM_JWT_SECRET", raising=False)
    with pytest.raises(ValidationError, match="CRM_JWT_SECRET must be set"):
        Settings()
    monkeypatch.setenv("CRM_JWT_SECRET", "a-real-secret")
    assert Settings().jwt_secret.get_secret_value() == "a-real-secret"
