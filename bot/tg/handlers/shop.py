"""Supervisors teach Kefu in chat: /word, /unword, /words (shop words) and /retrain."""

from __future__ import annotations

from html import escape

from telegram import Update

from bot.core.shop_words import WordProblem, parse_word_command
from bot.core.sla import shop_time
from bot.core.types import Category, Language
from bot.service import shop_model
from bot.tg.context import KefuContext, Sender, Services
from bot.tg.handlers.supervisor import _supervisor


def _text(update: Update) -> str:
    """What follows the command, as written (quotes kept for shlex)."""
    message = update.effective_message
    words = (message.text or "") if message is not None else ""
    return words.split(maxsplit=1)[1] if len(words.split(maxsplit=1)) == 2 else ""


def _category(services: Services, language: Language, category: Category) -> str:
    name = services.text(language, f"category_names.{category.value}")
    return f"{name} ({category.value})"


def _weight(weight: float) -> str:
    return f"{weight:g}"


async def _answer(sender: Sender, lines: list[str]) -> None:
    await sender.message.reply_text(escape("\n".join(lines)))


async def word_command(update: Update, context: KefuContext) -> None:
    """/word WORD CATEGORY [--weight N]: a shop word that always wins, for every process."""
    args = _text(update)
    sender = await _supervisor(update, context, "word.denied", args)
    if sender is None:
        return
    services, language = context.services, sender.language
    try:
        added = await shop_model.add_word(
            db=services.db,
            understanding=services.understanding,
            request=parse_word_command(args),
            actor=sender.user.id,
            actor_name=sender.user.full_name,
        )
    except WordProblem as problem:
        await _answer(
            sender, [services.text(language, f"shop.word_{problem.key}", **_shown(problem))]
        )
        return
    word = added.word
    lines = [
        services.text(
            language,
            "shop.word_added",
            word=word.word,
            category=_category(services, language, word.category),
            weight=_weight(word.weight),
        )
    ]
    for note in added.notes:
        lines.append(services.text(language, f"shop.word_{note.key}", **note.variables))
    await _answer(sender, lines)


def _shown(problem: WordProblem) -> dict[str, object]:
    return {k: _weight(v) if isinstance(v, float) else v for k, v in problem.variables.items()}


async def unword_command(update: Update, context: KefuContext) -> None:
    """/unword WORD: the shop word no longer applies (every process, from the next message)."""
    args = _text(update).strip().strip("\"'“”「」")
    sender = await _supervisor(update, context, "unword.denied", args)
    if sender is None:
        return
    services, language = context.services, sender.language
    if not args:
        await _answer(sender, [services.text(language, "shop.unword_usage")])
        return
    removed = await shop_model.remove_word(
        db=services.db, understanding=services.understanding, word=args, actor=sender.user.id
    )
    if removed is None:
        await _answer(sender, [services.text(language, "shop.unword_missing", word=args)])
        return
    category = _category(services, language, removed.category)
    await _answer(
        sender, [services.text(language, "shop.unword_done", word=removed.word, category=category)]
    )


async def words_command(update: Update, context: KefuContext) -> None:
    """/words: every shop word with who added it and when."""
    sender = await _supervisor(update, context, "words.denied", "")
    if sender is None:
        return
    services, language = context.services, sender.language
    stored = await shop_model.list_words(db=services.db)
    if not stored:
        await _answer(sender, [services.text(language, "shop.words_none")])
        return
    lines = [services.text(language, "shop.words_title", count=len(stored))]
    for entry in stored:
        lines.append(
            services.text(
                language,
                "shop.words_line",
                word=entry.word.word,
                category=_category(services, language, entry.word.category),
                weight=_weight(entry.word.weight),
                name=entry.added_by_name or str(entry.added_by or ""),
                time=shop_time(entry.added_at, services.settings.timezone),
            )
        )
    await _answer(sender, lines)


async def retrain_command(update: Update, context: KefuContext) -> None:
    """/retrain: fit the shop's model on its labels and make it the active version."""
    sender = await _supervisor(update, context, "retrain.denied", "")
    if sender is None:
        return
    services, language = context.services, sender.language
    await _answer(sender, [services.text(language, "shop.retrain_started")])
    try:
        result = await shop_model.train_and_activate(
            db=services.db,
            understanding=services.understanding,
            created_by=sender.user.id,
            min_labels=services.settings.shop_min_labels,
        )
    except shop_model.ShopModelError as refused:
        await _answer(sender, [services.text(language, f"shop.{refused.key}", **refused.variables)])
        return
    fit = result.fit
    counts = fit.label_counts()
    await _answer(
        sender,
        [
            services.text(
                language,
                "shop.retrain_done",
                version=result.version_id,
                labels=counts["labels"],
                corrections=counts["corrections"],
                confirmations=counts["confirmations"],
                held_out=fit.held_out,
                before=f"{fit.accuracy_before:.0%}",
                after=f"{fit.accuracy_after:.0%}",
            )
        ],
    )
