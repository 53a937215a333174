"""The chain-head witness: post the evidence chain's head to the supervisors' chat.

Once the head is in a Telegram chat, rewriting the log would also need rewriting Telegram's copy;
`kefu verify --against HASH@SEQ` checks a published head is still in the chain. The bot's daily
job calls `publish_chain_head` with its own bot; `kefu verify --publish` uses
`publish_with_settings`, which builds a short-lived Bot from the settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram import Bot

from bot.config import Settings
from bot.core.evidence import ChainHead
from bot.phrasebook.witness import load_witness_templates
from bot.service.witness import head_to_publish, record_published
from bot.storage.database import Database

if TYPE_CHECKING:
    from bot.storage.database import SessionFactory


async def publish_chain_head(
    *,
    bot: Bot,
    sessions: SessionFactory,
    chat_id: int,
    template: str,
) -> ChainHead:
    """Post the current head (hash, record count, time) to `chat_id` and audit that it was posted."""
    head, text = await head_to_publish(sessions=sessions, template=template)
    sent = await bot.send_message(chat_id=chat_id, text=text)
    await record_published(
        sessions=sessions, chat_id=chat_id, head=head, message_id=sent.message_id
    )
    return head


async def publish_with_settings(settings: Settings) -> ChainHead:
    """The CLI path: publish the head through a Bot built from the settings (token, URLs)."""
    if settings.bot_token is None or settings.supervisor_chat_id is None:
        raise ValueError("publishing needs KEFU_BOT_TOKEN and KEFU_SUPERVISOR_CHAT_ID")
    template = load_witness_templates(settings.phrasebook_dir)[settings.language]
    db = Database.open(settings.sqlalchemy_url)
    try:
        bot = Bot(
            settings.bot_token.get_secret_value(),
            base_url=settings.telegram_base_url,
            base_file_url=settings.telegram_file_url,
        )
        async with bot:
            published = await publish_chain_head(
                bot=bot,
                sessions=db.sessions,
                chat_id=settings.supervisor_chat_id,
                template=template,
            )
    finally:
        await db.close()
    return published
