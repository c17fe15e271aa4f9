"""The default markets and their time zones (SPEC section 2).

Every calendar rule is applied in the seller's market-local time, so the zone
of a market is part of the contract, not a setting.
"""

from typing import Literal

Market = Literal["TH", "ID", "MY", "VN", "PH", "SG", "US", "GB"]

MARKET_TIME_ZONES: dict[str, str] = {
    "TH": "Asia/Bangkok",
    "ID": "Asia/Jakarta",
    "MY": "Asia/Kuala_Lumpur",
    "VN": "Asia/Ho_Chi_Minh",
    "PH": "Asia/Manila",
    "SG": "Asia/Singapore",
    "US": "America/Los_Angeles",
    "GB": "Europe/London",
}
