"""The team: agents' availability and the roles admins grant and revoke in chat, audited."""

from __future__ import annotations

from bot.config import Settings
from bot.core.roles import Role, effective_role
from bot.storage.agents import (
    former_staff,
    granted_roles,
    set_available,
    staff_ids,
    upsert_agent,
)
from bot.storage.database import Database
from bot.storage.evidence import append_audit


async def set_availability(
    db: Database,
    *,
    telegram_user_id: int,
    role: Role,
    name: str,
    language_code: str | None,
    available: bool,
) -> None:
    """/available or /away: the agent takes new conversations, or stops; audited."""
    async with db.transaction() as session:
        await upsert_agent(
            session=session,
            telegram_user_id=telegram_user_id,
            role=role,
            display_name=name,
            language_code=language_code,
        )
        await set_available(session=session, telegram_user_id=telegram_user_id, available=available)
        await append_audit(
            session=session,
            actor_telegram_id=telegram_user_id,
            action="agent.available" if available else "agent.away",
            target=f"user:{telegram_user_id}",
        )


async def set_role(
    db: Database,
    *,
    actor_telegram_id: int,
    target_id: int,
    role: Role,
    granting: bool,
    configured_in: str | None,
) -> None:
    """Grant `role` to a user, or revoke their grant (back to `role`, from the settings); a
    role below agent leaves them an inactive agents row. Audited."""
    async with db.transaction() as session:
        await upsert_agent(
            session=session,
            telegram_user_id=target_id,
            role=max(role, Role.AGENT),
            active=role >= Role.AGENT,
        )
        details = {"role": role.name.lower()}
        if configured_in:  # a revoke takes back grants, not the settings' role
            details["configured_in"] = configured_in
        await append_audit(
            session=session,
            actor_telegram_id=actor_telegram_id,
            action="role.granted" if granting else "role.revoked",
            target=f"user:{target_id}",
            details=details,
        )


async def supervisor_ids(db: Database) -> list[int]:
    """Telegram ids of the supervisors and admins granted in chat (the settings' are known)."""
    async with db.session() as session:
        return await staff_ids(session=session, minimum=Role.SUPERVISOR)


async def team(db: Database, settings: Settings) -> dict[int, Role]:
    """Everyone with a menu of their own: every team member (from the settings and granted in
    chat) with their role in force, and those whose role was revoked, as buyers."""
    async with db.session() as session:
        granted = await granted_roles(session=session)
        former = await former_staff(session=session)
    ids = dict.fromkeys([*settings.agent_ids, *settings.supervisor_ids, *settings.admin_ids])
    ids.update(dict.fromkeys(granted))
    roles = {
        user_id: effective_role(
            user_id,
            admins=settings.admin_ids,
            supervisors=settings.supervisor_ids,
            agents=settings.agent_ids,
            granted=granted.get(user_id),
        )
        for user_id in ids
    }
    members = {user_id: role for user_id, role in roles.items() if role is not Role.BUYER}
    return {**dict.fromkeys(former, Role.BUYER), **members}
