import pytest

from services.eligibility.domain.level import level_for, performance
from tests.unit.eligibility.builders import POLICY

RULES = POLICY.level


@pytest.mark.parametrize(
    ("delivered", "read", "blocked", "previous", "level"),
    [
        (10_000, 4_000, 49, 2, 5),  # read 0.40, block 0.0049
        (10_000, 4_000, 50, 2, 4),  # block 0.005
        (99, 99, 0, 3, 3),  # delivered 99: too little data, level kept
        (99, 99, 0, None, 2),  # … and a seller without a level starts at 2
        (100, 50, 0, 3, 5),  # delivered 100 is enough
        (1_000, 500, 30, 5, 1),  # block 0.03
        (1_000, 500, 29, 5, 2),  # block 0.029: not 1, but too high for 3, 4 or 5
        (1_000, 99, 0, 5, 1),  # read 0.099 < 0.10
        (1_000, 100, 0, 5, 2),  # read 0.10: level 1 no more, 3 needs 0.20
        (1_000, 300, 9, 2, 4),  # read 0.30, block 0.009
        (1_000, 300, 10, 2, 3),  # block 0.010 → not 4; 0.30 >= 0.20 and 0.010 < 0.015
        (1_000, 200, 14, 2, 3),
        (1_000, 200, 15, 2, 2),  # block 0.015
        (1_000, 199, 0, 4, 2),  # read 0.199
        (1_000, 399, 4, 2, 4),  # read 0.399 misses 5
    ],
)
def test_level_table_boundaries(
    delivered: int, read: int, blocked: int, previous: int | None, level: int
) -> None:
    assert level_for(RULES, performance(delivered, read, blocked), previous) == level


def test_rates_are_fractions_of_deliveries() -> None:
    p = performance(200, 50, 3)
    assert (p.read_rate, p.block_rate) == (0.25, 0.015)
    assert performance(0, 0, 0).read_rate == 0.0
    assert performance(10, 12, 0).read_rate == 1.0  # reads of earlier deliveries
