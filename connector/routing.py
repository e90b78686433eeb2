"""Choose the desk for an interaction: the first desk whose ``when`` rule holds."""

from __future__ import annotations

from connector.config import Config
from connector.model import PRIORITIES, Interaction, Triage


def priority_rank(priority: str) -> int:
    """P1 is 0 (most urgent), P4 is 3."""
    return PRIORITIES.index(priority)


def route(config: Config, interaction: Interaction, triage: Triage) -> str | None:
    """Return the desk name, or None when no desk takes this interaction."""
    for desk in config.desks:
        rule = desk.when
        if rule is None:
            return desk.name
        if rule.platforms and interaction.platform not in rule.platforms:
            continue
        if rule.natures and triage.nature not in rule.natures:
            continue
        if rule.min_priority and priority_rank(triage.priority) > priority_rank(rule.min_priority):
            continue
        return desk.name
    return None
