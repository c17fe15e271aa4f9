"""What one recipient gets: the message's id and the language of its text."""

from __future__ import annotations

import uuid

from schemas.plans import PlanContent

# One (plan, customer) pair has one message id wherever it is computed: a retried
# fan-out, a restarted worker and the chat system all name the same message.
MESSAGE_NAMESPACE = uuid.UUID("0c2f6e1a-5d8b-4b7e-9a41-3f6d2c8e9b17")


def message_id(plan_id: str, customer_id: str) -> uuid.UUID:
    return uuid.uuid5(MESSAGE_NAMESPACE, f"{plan_id}/{customer_id}")


def language_for(content: PlanContent, app_language: str | None) -> str:
    """The customer's app language when the plan has a text in it, else the default."""
    if app_language is not None and app_language in content.texts:
        return app_language
    return content.default_language
