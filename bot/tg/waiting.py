"""The waiting clock for intake (`bot/tg/inbox.py`): the shop's policy, then the service.

Kept until intake calls `bot.service.waiting.start_waiting_many` itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.core.types import Language
from bot.service import waiting as waiting_service
from bot.storage.database import Session
from bot.tg.context import Services


async def start_waiting_many(
    services: Services,
    *,
    session: Session,
    waiting: Sequence[tuple[Any, datetime, Language]],
) -> None:
    """Start the waiting stretches of buyer messages under the shop's quick-response policy."""
    await waiting_service.start_waiting_many(
        session=session, policy=services.sla_policy, waiting=waiting
    )
