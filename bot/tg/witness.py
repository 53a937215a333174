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
from bot.core.evidence import ChainHead, witness_text
from bot.phrasebook.witness import load_witness_templates
from bot.storage import evidence
from bot.storage.engine import make_engine, make_sessionmaker
from bot.storage.models import utcnow

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
    async with sessions() as session:
        head = await evidence.chain_head(session=session)
    # Every record holds one sequence number and there are no gaps, so the count is the seq.
    text = witness_text(template, head=head, records=head.seq, at=utcnow())
    sent = await bot.send_message(chat_id=chat_id, text=text)
    async with sessions() as session:
        await evidence.append_audit(
            session=session,
            actor_telegram_id=None,
            action="chain_head.published",
            target=str(chat_id),
            details={"seq": head.seq, "hash": head.hash, "message_id": sent.message_id},
        )
        await session.commit()
    return head


async def publish_with_settings(settings: Settings) -> ChainHead:
    """The CLI path: publish the head through a Bot built from the settings (token, URLs)."""
    if settings.bot_token is None or settings.supervisor_chat_id is None:
        raise ValueError("publishing needs KEFU_BOT_TOKEN and KEFU_SUPERVISOR_CHAT_ID")
    template = load_witness_templates(settings.phrasebook_dir)[settings.language]
    engine = make_engine(settings.sqlalchemy_url)
    try:
        bot = Bot(
            settings.bot_token.get_secret_value(),
            base_url=settings.telegram_base_url,
            base_file_url=settings.telegram_file_url,
        )
        async with bot:
            published = await publish_chain_head(
                bot=bot,
                sessions=make_sessionmaker(engine),
                chat_id=settings.supervisor_chat_id,
                template=template,
            )
    finally:
        await engine.dispose()
    return published
