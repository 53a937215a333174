"""Admins grant and revoke the team's roles in chat; every change is audited."""

from __future__ import annotations

from html import escape

from telegram import Update

from bot.config import Settings
from bot.core.roles import Role, effective_role
from bot.service import audit, staff
from bot.tg.commands import publish_commands_for
from bot.tg.context import KefuContext, sender_of

GRANTABLE = (Role.AGENT, Role.SUPERVISOR)
MAX_USER_ID = 2**53  # Telegram user ids have at most 52 significant bits
# Where a role given in the settings comes from: only there can it be taken away.
SETTING_OF_ROLE = {
    Role.ADMIN: "KEFU_ADMIN_IDS",
    Role.SUPERVISOR: "KEFU_SUPERVISOR_IDS",
    Role.AGENT: "KEFU_AGENT_IDS",
}


def _parse(args: list[str], reply_user_id: int | None) -> tuple[int, Role | None] | None:
    words = list(args)
    user_id = reply_user_id
    if words and words[0].lstrip("-").isdecimal():
        user_id = int(words.pop(0))
        if not 0 < user_id < MAX_USER_ID:
            return None
    role = None
    if words:
        try:
            role = Role.parse(words[0])
        except ValueError:
            return None
    return (user_id, role) if user_id is not None else None


async def grant(update: Update, context: KefuContext) -> None:
    """/grant USER_ID agent|supervisor (or as a reply to the user's message)."""
    await _change(update, context, granting=True)


async def revoke(update: Update, context: KefuContext) -> None:
    """/revoke USER_ID: the user goes back to being a buyer."""
    await _change(update, context, granting=False)


async def _change(update: Update, context: KefuContext, *, granting: bool) -> None:
    sender = await sender_of(update, context)
    if sender is None:
        return
    services, user, message, language = (
        context.services,
        sender.user,
        sender.message,
        sender.language,
    )
    if sender.role < Role.ADMIN:
        await audit.record(
            services.db,
            actor_telegram_id=user.id,
            action="role.denied",
            target=" ".join(context.args or [])[:256],
        )
        await message.reply_text(escape(services.text(language, "card.not_allowed")))
        return
    replied = message.reply_to_message
    reply_user = replied.from_user.id if replied is not None and replied.from_user else None
    parsed = _parse(list(context.args or []), reply_user)
    role = parsed[1] if parsed is not None else None
    if parsed is None or (granting and role not in GRANTABLE):
        await message.reply_text(escape(services.text(language, "bot.usage_grant")))
        return
    target_id = parsed[0]
    configured = Role.BUYER if granting else _configured_role(services.settings, target_id)
    new_role = role if granting and role is not None else configured
    await staff.set_role(
        services.db,
        actor_telegram_id=user.id,
        target_id=target_id,
        role=new_role,
        granting=granting,
        configured_in=SETTING_OF_ROLE[configured] if configured >= Role.AGENT else None,
    )
    services.forget_role(target_id)
    await publish_commands_for(context.bot, services, target_id)
    role_name = services.text(language, f"roles.{new_role.name.lower()}")
    key = "bot.granted" if granting else "bot.revoked"
    if configured >= Role.AGENT:
        key = "bot.revoke_configured"
    setting = SETTING_OF_ROLE.get(configured, "")
    await message.reply_text(
        escape(services.text(language, key, user=target_id, role=role_name, setting=setting))
    )


def _configured_role(settings: Settings, user_id: int) -> Role:
    """The role `user_id` has from KEFU_ADMIN_IDS / KEFU_SUPERVISOR_IDS / KEFU_AGENT_IDS."""
    return effective_role(
        user_id,
        admins=settings.admin_ids,
        supervisors=settings.supervisor_ids,
        agents=settings.agent_ids,
        granted=None,
    )
