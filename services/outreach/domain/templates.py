"""The pre-built template catalogue and safe placeholder rendering (stub: being filled in)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Template(BaseModel):
    model_config = ConfigDict(frozen=True)

    template_id: str
    name: str
    languages: tuple[str, ...]
    texts: dict[str, str]


_CATALOGUE = (
    Template(
        template_id="thank_you",
        name="Thank you",
        languages=("en",),
        texts={"en": "Thank you for shopping at {shop_name}, {customer_name}!"},
    ),
)


def catalogue() -> tuple[Template, ...]:
    return _CATALOGUE


def find(template_id: str) -> Template | None:
    return next((t for t in _CATALOGUE if t.template_id == template_id), None)
