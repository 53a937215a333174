"""Copilot mode: an agent pastes or forwards a buyer's message from Taobao, Kuaishou or Amazon."""

from __future__ import annotations

from datetime import datetime
from html import escape

from telegram import (
    Message,
    MessageOriginChannel,
    MessageOriginChat,
    MessageOriginHiddenUser,
    MessageOriginUser,
    User,
)

from bot.core.labels import CardLabel
from bot.core.roles import Role
from bot.core.types import Language
from bot.storage import copilot as paste_store
from bot.storage import labels as label_store
from bot.storage.agents import upsert_agent
from bot.storage.database import Session
from bot.storage.evidence import append_audit, append_message
from bot.storage.models import Conversation, CopilotPaste, utcnow
from bot.tg.context import KefuContext
from bot.tg.keyboards import CopilotAction, copilot_keyboard, used_keyboard
from bot.tg.render import split_text
from bot.understanding import Analysis


def forwarded_from(message: Message) -> tuple[str, datetime | None]:
    """Who originally wrote a forwarded message and when, as far as Telegram tells."""
    origin = message.forward_origin
    if isinstance(origin, MessageOriginUser):
        return origin.sender_user.full_name, origin.date
    if isinstance(origin, MessageOriginHiddenUser):
        return origin.sender_user_name, origin.date
    if isinstance(origin, MessageOriginChat):
        return origin.sender_chat.title or "", origin.date
    if isinstance(origin, MessageOriginChannel):
        return origin.chat.title or "", origin.date
    return "", None


async def paste(update_message: Message, user: User, context: KefuContext) -> None:
    """Analyse a pasted buyer message and answer with copyable suggestions and the checklist."""
    services = context.services
    language = services.language_of(user.language_code)
    text = update_message.text or update_message.caption or ""
    analysis = services.understanding.analyse(text, seed=update_message.message_id)
    label, original_at = forwarded_from(update_message)
    entities = analysis.classification.entities
    async with services.db.transaction() as session:
        stored = await paste_store.save_paste(
            session=session,
            agent_telegram_id=user.id,
            chat_id=update_message.chat_id,
            telegram_message_id=update_message.message_id,
            text=text,
            buyer_label=label,
            original_sent_at=original_at,
            order_id=next(iter(entities.order_ids), None),
            suggestions=list(analysis.composition.suggestions),
        )
        current = await paste_store.current_case(session=session, agent_telegram_id=user.id)
    lines = analysis_html(analysis, context, language)
    if label:
        lines.insert(
            0, "↪️ " + escape(services.text(language, "copilot.forwarded_from", name=label))
        )
    chunks = split_text("\n".join(lines), 3900)
    for chunk in chunks[:-1]:
        await update_message.reply_text(chunk)
    await update_message.reply_text(
        chunks[-1],
        reply_markup=copilot_keyboard(
            stored.id,
            current_case=current.id if current else None,
            wording=services.wording,
            language=language,
        ),
    )


def analysis_html(analysis: Analysis, context: KefuContext, language: Language) -> list[str]:
    """A paste's copilot card as HTML lines: verdict, facts, warnings, suggestions, playbook."""
    services = context.services
    c = analysis.classification

    def t(key: str, **variables: object) -> str:
        return escape(services.text(language, key, **variables))

    head = f"<b>{t(f'category_names.{c.category.value}')}</b> · {c.confidence:.0%}"
    if c.flags:
        head += " · " + ", ".join(t(f"flag_names.{flag}") for flag in c.sorted_flags())
    lines = [head]
    if c.keywords:
        lines.append(f"{t('console.keywords')}: {escape(', '.join(c.keywords))}")
    for name, values in c.entities.as_dict().items():
        lines.append(f"{t(f'entity_names.{name}')}: {escape(', '.join(values))}")
    lines.extend(f"⚠️ <b>{t(f'warnings.{key}')}</b>" for key in analysis.composition.warnings)
    lines.append(f"<b>{t('copilot.header')}</b>")
    for number, suggestion in enumerate(analysis.composition.suggestions, start=1):
        lines.append(
            f"{number} · <i>{t(f'suggestion_kinds.{suggestion.kind}')}</i>\n<code>{escape(suggestion.text)}</code>"
        )
    lines.append(f"<b>{t('console.playbook')}</b>")
    for section in ("before_dispute", "after_dispute", "evidence"):
        lines.append(f"<i>{t(f'playbook_sections.{section}')}</i>")
        lines.extend(f"☐ {escape(item)}" for item in getattr(analysis.playbook, section))
    return lines


async def act(context: KefuContext, user: User, role: Role, action: CopilotAction) -> str | None:
    """Log a paste under a case (new on a platform, or the current one), or record the reply used."""
    services = context.services
    language = services.language_of(user.language_code)
    async with services.db.transaction() as session:
        stored = await session.get(CopilotPaste, action.paste_id)
        if stored is None or stored.agent_telegram_id != user.id:
            return services.text(language, "bot.card_gone")
        agent = await upsert_agent(
            session=session, telegram_user_id=user.id, role=role, display_name=user.full_name
        )
        if action.action == "used":
            return await _log_used(context, session, stored, agent.id, action.index or 0, language)
        if stored.conversation_id is not None:
            return services.text(
                language, "copilot.logged", case=stored.conversation_id, platform="", order_id=""
            )
        if action.action == "join" and action.case_id is not None:
            conversation = await session.get(Conversation, action.case_id)
            if conversation is None:
                return services.text(language, "bot.card_gone")
        else:
            conversation = await paste_store.open_platform_case(
                session=session,
                platform=action.platform or "other",
                buyer_label=stored.buyer_label,
                order_id=stored.order_id,
                agent_id=agent.id,
            )
        verdict = services.understanding.classifier.classify(stored.text)
        if conversation.order_id is None and stored.order_id:
            conversation.order_id = stored.order_id
        agreed = await label_store.current_label(
            session=session,
            target=label_store.paste_target(stored.id),
            original=CardLabel(verdict.category, verdict.flags),
        )
        if conversation.category is None or agreed.revision:  # an agent's correction files it
            conversation.category = (agreed.category or verdict.category).value
        record = await append_message(
            session=session,
            conversation_id=conversation.id,
            buyer_id=conversation.buyer_id,
            direction="in",
            chat_id=stored.chat_id,
            telegram_message_id=stored.telegram_message_id,
            text=stored.text,
            content_type="pasted",
            sent_at=stored.original_sent_at or stored.created_at,
            category=verdict.category.value,
            confidence=verdict.confidence,
            flags=verdict.sorted_flags(),
        )
        stored.conversation_id, stored.message_id = conversation.id, record.id
        await append_audit(
            session=session,
            actor_telegram_id=user.id,
            action="copilot.logged",
            target=f"case:{conversation.id}",
            details={
                "paste": stored.id,
                "platform": conversation.platform,
                "message_id": record.id,
            },
        )
        platform, order_id, case_id = (
            conversation.platform,
            conversation.order_id or "-",
            conversation.id,
        )
        suggestions = len(paste_store.paste_suggestions(stored))
    note = services.text(
        language,
        "copilot.logged",
        case=case_id,
        platform=services.text(language, f"platforms.{platform}"),
        order_id=order_id,
    )
    await context.bot.send_message(
        chat_id=user.id,
        text="🗂 " + escape(note),
        reply_markup=used_keyboard(
            action.paste_id, suggestions, wording=services.wording, language=language
        ),
    )
    return note


async def _log_used(
    context: KefuContext,
    session: Session,
    stored: CopilotPaste,
    agent_id: int,
    index: int,
    language: Language,
) -> str:
    services = context.services
    suggestions = paste_store.paste_suggestions(stored)
    conversation = (
        await session.get(Conversation, stored.conversation_id) if stored.conversation_id else None
    )
    if conversation is None or not 1 <= index <= len(suggestions):
        return services.text(language, "bot.card_gone")
    await append_message(
        session=session,
        conversation_id=conversation.id,
        buyer_id=conversation.buyer_id,
        direction="out",
        text=suggestions[index - 1].text,
        content_type="copilot",
        sent_at=utcnow(),
        suggestion_index=index,
        suggestion_edited=False,
        agent_id=agent_id,
        category=conversation.category,
    )
    await append_audit(
        session=session,
        actor_telegram_id=stored.agent_telegram_id,
        action="suggestion.sent",
        target=f"case:{conversation.id}",
        details={
            "paste": stored.id,
            "message_id": stored.message_id,
            "suggestion_index": index,
            "via": "copilot",
        },
    )
    return services.text(language, "copilot.used_logged", n=index)
