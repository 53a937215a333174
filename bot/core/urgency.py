"""Urgency by structure (Latin text): a need tied to a near time.

"It's for my daughter's party at 3 today", "need the right one before my guests arrive
Saturday", "expenses are due Friday": no single phrase says urgent, but a near time (today,
tomorrow, a weekday) with a need (need, for my, before, due, booked) does. Only short messages
are read so, as a long review that mentions a day is telling a story.
"""

from __future__ import annotations

from bot.core.keyword_rules import Rules
from bot.core.threats import has_word
from bot.core.types import Flag


def add_deadline_urgency(text: str, rules: Rules, flags: dict[Flag, float]) -> None:
    """Set `urgent` when a near time (`urgent_times`) and a need (`urgent_needs`) meet in a
    message of at most `link_max_length` / 2 words."""
    if len(text.split()) * 4 > rules.link_max_length * 2:
        return
    if any(has_word(text, time, whole=True) for time in rules.urgent_times) and any(
        has_word(text, need, whole=True) for need in rules.urgent_needs
    ):
        flags[Flag.URGENT] = max(flags.get(Flag.URGENT, 0.0), rules.flag_threshold)
