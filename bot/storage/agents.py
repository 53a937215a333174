"""The shop's team: roles granted in chat, availability, round-robin assignment."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.roles import Role
from bot.storage.models import Agent, Conversation, utcnow


async def get_agent(*, session: AsyncSession, telegram_user_id: int) -> Agent | None:
    """The team member with this Telegram id, if any."""
    return (
        await session.execute(select(Agent).where(Agent.telegram_user_id == telegram_user_id))
    ).scalar_one_or_none()


async def granted_roles(*, session: AsyncSession) -> dict[int, Role]:
    """The role granted in chat to every active team member, by Telegram id."""
    rows = await session.execute(select(Agent.telegram_user_id, Agent.role).where(Agent.active))
    return {user_id: Role.parse(role) for user_id, role in rows}


async def former_staff(*, session: AsyncSession) -> list[int]:
    """Telegram ids of team members whose role was revoked (they still hold a menu of their own)."""
    rows = await session.execute(select(Agent.telegram_user_id).where(Agent.active.is_(False)))
    return list(rows.scalars())


async def upsert_agent(
    *,
    session: AsyncSession,
    telegram_user_id: int,
    role: Role,
    display_name: str = "",
    language_code: str | None = None,
    active: bool = True,
) -> Agent:
    """Create or update a team member with `role` (several processes may do it at once)."""
    agent = await get_agent(session=session, telegram_user_id=telegram_user_id)
    if agent is None:
        # Insert-or-nothing, then read: two processes starting together both seed the
        # configured staff, and the second one's plain INSERT would break the unique id.
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        await session.execute(
            dialect.insert(Agent)
            .values(telegram_user_id=telegram_user_id, role=role.name.lower(), available=False)
            .on_conflict_do_nothing(index_elements=["telegram_user_id"])
        )
        agent = await get_agent(session=session, telegram_user_id=telegram_user_id)
        assert agent is not None
    agent.role = role.name.lower()
    agent.active = active
    if display_name:
        agent.display_name = display_name[:256]
    if language_code:
        agent.language_code = language_code[:16]
    await session.flush()
    return agent


async def touch_agent(
    *, session: AsyncSession, telegram_user_id: int, display_name: str, language_code: str | None
) -> Agent | None:
    """Refresh a known team member's name and language from Telegram."""
    agent = await get_agent(session=session, telegram_user_id=telegram_user_id)
    if agent is not None and (agent.display_name, agent.language_code) != (
        display_name,
        language_code,
    ):
        agent.display_name = display_name[:256]
        agent.language_code = language_code[:16] if language_code else None
        await session.flush()
    return agent


async def set_available(
    *, session: AsyncSession, telegram_user_id: int, available: bool
) -> Agent | None:
    """Mark an agent available for new conversations, or away."""
    agent = await get_agent(session=session, telegram_user_id=telegram_user_id)
    if agent is not None:
        agent.available = available
        await session.flush()
    return agent


async def staff_ids(*, session: AsyncSession, minimum: Role) -> list[int]:
    """Telegram ids of active team members whose granted role is at least `minimum`."""
    rows = (
        await session.execute(select(Agent.telegram_user_id, Agent.role).where(Agent.active))
    ).all()
    return [user_id for user_id, role in rows if Role.parse(role) >= minimum]


async def assign_agents(
    *, session: AsyncSession, conversations: Sequence[Conversation]
) -> dict[int, Agent | None]:
    """The agent of each conversation, by conversation id: its own (if still active), else the
    buyer's last agent, else the available agents in turn from the one assigned longest ago.

    Three statements whatever the number: the agents already assigned, each buyer's last agent,
    and the available agents (locked, so two bot processes do not hand out the same turn).
    """
    chosen: dict[int, Agent | None] = {}
    assigned_ids = {c.assigned_agent_id for c in conversations if c.assigned_agent_id is not None}
    current: dict[int, Agent] = {}
    if assigned_ids:
        rows = await session.execute(select(Agent).where(Agent.id.in_(assigned_ids)))
        current = {agent.id: agent for agent in rows.scalars()}
    unassigned: list[Conversation] = []
    for conversation in conversations:
        agent = current.get(conversation.assigned_agent_id or -1)
        if agent is not None and agent.active:
            chosen[conversation.id] = agent
        elif conversation.id not in chosen:
            unassigned.append(conversation)
    if not unassigned:
        return chosen
    buyer_ids = list(dict.fromkeys(c.buyer_id for c in unassigned))
    previous: dict[int, Agent] = {}
    rows = await session.execute(
        select(Conversation.buyer_id, Agent)
        .join(Conversation, Conversation.assigned_agent_id == Agent.id)
        .where(Conversation.buyer_id.in_(buyer_ids), Agent.active, Agent.available)
        .order_by(Conversation.opened_at.desc())
    )
    for buyer_id, agent in rows:
        previous.setdefault(buyer_id, agent)
    rotation = list(
        (
            await session.execute(
                select(Agent)
                .where(Agent.active, Agent.available)
                .order_by(Agent.last_assigned_at.asc().nulls_first(), Agent.id)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
    )
    turn = 0
    for conversation in unassigned:
        if conversation.id in chosen:
            continue  # the same conversation twice in the batch
        agent = previous.get(conversation.buyer_id)
        if agent is None and rotation:
            agent = rotation[turn % len(rotation)]
            turn += 1
        chosen[conversation.id] = agent
        if agent is not None:
            agent.last_assigned_at = utcnow()
            conversation.assigned_agent_id = agent.id
            previous[conversation.buyer_id] = agent  # sticky within the batch too
    await session.flush()
    return chosen


async def available_agents(*, session: AsyncSession) -> int:
    """How many active agents take new conversations now (`/available`)."""
    count = await session.scalar(
        select(func.count()).select_from(Agent).where(Agent.active, Agent.available)
    )
    return int(count or 0)
