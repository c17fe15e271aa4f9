"""GET /v1/templates: the catalogue in the languages of the seller's market."""

from __future__ import annotations

from demo.sample_status import sample_status
from tests.integration.outreach.conftest import ApiUnderTest
from tests.integration.outreach.support import project_status


async def test_a_seller_sees_the_templates_in_its_market_languages(
    api: ApiUnderTest, test_id: str
) -> None:
    thai, newcomer = f"thai-{test_id}", f"newcomer-{test_id}"
    await project_status(api.runtime.quota, sample_status(thai, market="TH"))

    for_thai = (await api.client.get("/v1/templates", headers=api.auth(thai))).json()["items"]
    for_all = (await api.client.get("/v1/templates", headers=api.auth(newcomer))).json()["items"]

    assert for_thai, "a TH seller has templates"
    for template in for_thai:
        assert set(template["languages"]) <= {"th", "en"}, template
        assert set(template["texts"]) == set(template["languages"]), template
    every_language = {language for t in for_all for language in t["languages"]}
    assert {"th", "en", "id", "vi"} <= every_language, "no market: the whole catalogue"
    assert {t["template_id"] for t in for_thai} <= {t["template_id"] for t in for_all}
