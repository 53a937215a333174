"""The typed context handlers receive: `context.services` is Kefu's long-lived services."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Any

from telegram import Message, Update, User
from telegram.ext import Application, CallbackContext, ExtBot

from bot.config import Settings
from bot.core.language import language_for
from bot.core.roles import Role, effective_role
from bot.core.sla import SlaPolicy
from bot.core.types import Language
from bot.core.wording import Wording
from bot.observability.metrics import Metrics
from bot.storage.agents import granted_roles
from bot.storage.database import Database
from bot.storage.filestore import AttachmentStore
from bot.understanding import Understanding

SERVICES_KEY = "kefu"


ROLE_CACHE_SECONDS = 3.0  # at most this long before a /grant or /revoke on another process is seen


@dataclass
class Services:
    """Everything handlers need, opened in post_init and closed in post_shutdown."""

    settings: Settings
    understanding: Understanding
    db: Database
    attachments: AttachmentStore
    metrics: Metrics = field(default_factory=Metrics)  # this bot's own registry
    _granted: tuple[dict[int, Role], float] | None = field(default=None, repr=False)
    # The settings file's values; `settings` is them with the shop's stored changes laid over
    # (/settings, polled with the shop's words: bot.tg.shop_sync).
    configured: Settings = field(init=False, repr=False)
    setting_values: Mapping[str, object] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.configured = self.settings

    @property
    def wording(self) -> Wording:
        """The phrasebook's agent- and buyer-facing wording."""
        return self.understanding.phrasebook.wording

    @property
    def sla_policy(self) -> SlaPolicy:
        """The shop's quick-response policy (preset and overrides from the settings)."""
        return self.settings.sla_policy

    @property
    def default_language(self) -> Language:
        """The shop's configured language."""
        return Language(self.settings.language)

    def language_of(self, language_code: str | None) -> Language:
        """The language for a user with this Telegram `language_code`."""
        return language_for(language_code, self.default_language)

    def text(self, language: Language, key: str, **variables: object) -> str:
        """Wording for `key` in `language`."""
        return self.wording.text(language, key, **variables)

    async def role_of(self, user_id: int) -> Role:
        """The user's role: from settings, or granted in chat (cached for a few seconds)."""
        return effective_role(
            user_id,
            admins=self.settings.admin_ids,
            supervisors=self.settings.supervisor_ids,
            agents=self.settings.agent_ids,
            granted=(await self._granted_roles()).get(user_id),
        )

    async def _granted_roles(self) -> dict[int, Role]:
        # Every grant at once (the team is small): one query per interval, not one per new buyer.
        now = time.monotonic()
        if self._granted is None or now - self._granted[1] >= ROLE_CACHE_SECONDS:
            async with self.db.session() as session:
                self._granted = (await granted_roles(session=session), now)
        return self._granted[0]

    async def is_staff(self, user_id: int) -> bool:
        """True for agents, supervisors and admins."""
        return await self.role_of(user_id) >= Role.AGENT

    def forget_role(self, user_id: int) -> None:
        """Drop the cached grants: a user's role just changed."""
        self._granted = None


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sent a command or message: the user, the message, their language and role."""

    user: User
    message: Message
    language: Language
    role: Role


class KefuContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """CallbackContext with typed access to Kefu's services."""

    @property
    def services(self) -> Services:
        """Kefu's services, placed in bot_data by the composition root."""
        services: Services = self.bot_data[SERVICES_KEY]
        return services


KefuApplication = Application[Any, KefuContext, Any, Any, Any, Any]


async def sender_of(update: Update, context: KefuContext) -> Sender | None:
    """The sender of a message update with their language and role; None for other updates."""
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return None
    services = context.services
    return Sender(
        user=user,
        message=message,
        language=services.language_of(user.language_code),
        role=await services.role_of(user.id),
    )


async def reply(sender: Sender, context: KefuContext, key: str, **variables: object) -> None:
    """Answer the sender with a phrasebook text in their language (HTML-escaped)."""
    await sender.message.reply_text(
        escape(context.services.text(sender.language, key, **variables))
    )
