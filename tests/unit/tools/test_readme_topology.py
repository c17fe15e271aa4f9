"""The README's topology picture stays true to the registry: every topic and every service
appears in it, and every topic it draws exists."""

from __future__ import annotations

import re
from pathlib import Path

from schemas.topics import ALL_TOPICS
from services.registry import SERVICES

README = Path(__file__).resolve().parents[3] / "README.md"


def _topology() -> tuple[str, str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Topology\n", 1)[1].split("\n## ", 1)[0]
    diagram = section.split("```mermaid\n", 1)[1].split("```", 1)[0]
    return section, diagram


def test_every_registered_topic_is_in_the_topology_section() -> None:
    section, _ = _topology()
    missing = [spec.name for spec in ALL_TOPICS if spec.name not in section]
    assert missing == []


def test_the_diagram_draws_only_registered_topics() -> None:
    _, diagram = _topology()
    drawn = set(re.findall(r"crm\.[a-z-]+[a-z]", diagram))
    assert drawn, "the diagram names no topic"
    assert drawn <= {spec.name for spec in ALL_TOPICS}


def test_every_service_has_its_box() -> None:
    _, diagram = _topology()
    boxes = set(re.findall(r'subgraph \w+\["([a-z]+)"\]', diagram))
    assert set(SERVICES) <= boxes
