"""Who may do what: buyers, agents, supervisors and admins."""

from __future__ import annotations

from collections.abc import Collection
from enum import IntEnum


class Role(IntEnum):
    """A user's role; a higher role may do everything a lower one may."""

    BUYER = 0
    AGENT = 1
    SUPERVISOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, text: str) -> Role:
        """The role named `text` (agent, supervisor, admin); ValueError otherwise."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {text!r}") from None


def effective_role(
    user_id: int,
    *,
    admins: Collection[int],
    supervisors: Collection[int],
    agents: Collection[int],
    granted: Role | None,
) -> Role:
    """The strongest of the role from settings and the role granted in chat (if still active)."""
    configured = (
        Role.ADMIN
        if user_id in admins
        else Role.SUPERVISOR
        if user_id in supervisors
        else Role.AGENT
        if user_id in agents
        else Role.BUYER
    )
    return max(configured, granted or Role.BUYER)
