"""Who said it and how urgent it is: influence, value, risk, priority, channel.

Pure functions over numbers the text analysis and the CRM give; the thresholds are named
here so the teams that tune triage find them in one place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from connector.config import PriorityMatrix
from connector.engagement import format_count
from connector.model import Customer

PUBLIC_KINDS = frozenset({"comment", "mention", "post", "review"})
# Influence: log10 of followers over this ceiling (10**6 followers → 1.0).
INFLUENCE_LOG_CEILING = 6.0
VERIFIED_BONUS = 0.2
HIGH_INFLUENCE = 0.5
# Value: scores for the configured tiers, highest threshold first.
VALUE_TIER_SCORES = (1.0, 0.6)
VALUE_LOW_POSITIVE = 0.3
VALUE_UNKNOWN = 0.2
HIGH_VALUE = VALUE_TIER_SCORES[0]
# Risk: nature severity dominates; negativity, spread and legal threats add to it.
RISK_SEVERITY_WEIGHT = 0.6
RISK_NEGATIVE_WEIGHT = 0.25
RISK_SPREAD_BONUS = 0.2
RISK_ESCALATION_BONUS = 0.15
# Priority: weighted score, then floors and caps by nature.
LOWEST_PRIORITY = 4
CRISIS_FLOOR = 2
PRAISE_CAP_HIGH_VALUE = 3


def influence_score(followers: int | None, verified: bool) -> float:
    """Return reach in [0, 1]: log10 of followers (10**6 → 1.0), plus a bonus for verified."""
    reach = math.log10(1 + max(followers or 0, 0)) / INFLUENCE_LOG_CEILING
    return round(min(1.0, reach + (VERIFIED_BONUS if verified else 0.0)), 3)


def value_score(customer: Customer | None, tiers: Mapping[str, float]) -> tuple[float, str]:
    """Return the customer's value in [0, 1] and a label for the explanation."""
    if customer is None or customer.value is None:
        return VALUE_UNKNOWN, "unknown customer"
    ranked = sorted(tiers.items(), key=lambda item: item[1], reverse=True)
    for rank, (name, threshold) in enumerate(ranked):
        if customer.value >= threshold:
            return VALUE_TIER_SCORES[min(rank, len(VALUE_TIER_SCORES) - 1)], f"{name} customer"
    if customer.value > 0:
        return VALUE_LOW_POSITIVE, "low-value customer"
    return VALUE_UNKNOWN, "customer without value"


def risk_score(severity: float, sentiment_score: float, spread: bool, escalation: bool) -> float:
    """Return risk in [0, 1] from the nature's severity, negativity, spread and legal threats."""
    risk = RISK_SEVERITY_WEIGHT * severity + RISK_NEGATIVE_WEIGHT * max(0.0, -sentiment_score)
    risk += (RISK_SPREAD_BONUS if spread else 0.0) + (RISK_ESCALATION_BONUS if escalation else 0.0)
    return round(min(1.0, risk), 3)


def choose_priority(
    nature: str,
    risk: float,
    influence: float,
    value: float,
    crisis: bool,
    matrix: PriorityMatrix | None = None,
) -> str:
    """Turn risk, influence and value into P1..P4 through the matrix, then apply the floors.

    A safety report is P1 whatever the matrix says; a crisis is at least P2; praise waits
    (P4) unless it comes from a top customer (P3).
    """
    matrix = matrix or PriorityMatrix()
    level = int(matrix.priority({"risk": risk, "influence": influence, "value": value})[1])
    if nature == "praise":
        level = max(level, PRAISE_CAP_HIGH_VALUE if value >= HIGH_VALUE else LOWEST_PRIORITY)
    if nature == "safety":
        level = 1
    elif crisis:
        level = min(level, CRISIS_FLOOR)
    return f"P{level}"


def choose_channel(kind: str, pii: Sequence[str]) -> str:
    """Say where the conversation continues: private for DMs and for PII left in public."""
    return "private" if kind not in PUBLIC_KINDS or pii else "public"


def reach_label(followers: int | None, verified: bool, engagement: str | None = None) -> str:
    label = "followers unknown" if followers is None else f"{format_count(followers)} followers"
    label = f"{label}, verified" if verified else label
    return f"{label}, {engagement}" if engagement else label
