"""The shop's own model and shop words: train, store, roll back, and keep every process current.

A model version is the shipped weights refitted on the shop's labels (`bot.core.shop_training`)
for each language with enough labels, stored compressed in the database; the active one is
what every bot process classifies with. Shop words are overrides kept in the database. Every
change bumps one revision number; each process polls it (`refresh_understanding`) and swaps
its classifier whole when it moves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.classify import Classifier
from bot.core.labels import ShopLabel
from bot.core.learned import LearnedWeights
from bot.core.shop_training import ShopFitConfig
from bot.core.shop_words import ShopWord, WordNote, WordRequest, check_word, with_shop_words
from bot.service.model_blob import CorruptModel, pack_model, unpack_model
from bot.service.shop_fit import (
    DEFAULT_FIT,
    LanguageFit,
    ShopFit,
    fit_language,
    labels_by_language,
)
from bot.storage import shop_model as store
from bot.storage.database import Database, Session
from bot.storage.evidence import append_audit
from bot.storage.labels import shop_labels
from bot.understanding import ShopState, Understanding

log = logging.getLogger(__name__)

DEFAULT_MIN_LABELS = 20
MODEL_TRAINED = "model.trained"
MODEL_ROLLED_BACK = "model.rolled_back"
WORD_ADDED = "word.added"
WORD_REMOVED = "word.removed"


class ShopModelError(Exception):
    """Training or rolling back refused: one line for the operator; `key` and `variables`
    name the chat wording (`shop.<key>`)."""

    def __init__(self, message: str, key: str = "", **variables: object) -> None:
        super().__init__(message)
        self.key = key
        self.variables = variables


async def labels_for_training(*, session: Session) -> list[ShopLabel]:
    """The shop's labels (corrections and confirmations), through the card corrections' store."""
    return await shop_labels(session=session)


# --- training ----------------------------------------------------------------------------------


def fit_shop_model(
    labels: Sequence[ShopLabel],
    *,
    live: Classifier,
    shipped: Mapping[str, LearnedWeights],
    min_labels: int = DEFAULT_MIN_LABELS,
    config: ShopFitConfig = DEFAULT_FIT,
    version: str = "shop",
) -> ShopFit:
    """Refit the shipped weights of each language with at least `min_labels` labels.

    `live` is the classifier in use (its rules and shop words give the features, its weights
    are the "before"). ShopModelError when no language has enough labels.
    """
    if not labels:
        raise ShopModelError(
            f"the shop has no labels yet: retraining needs at least {min_labels}"
            " (corrections with the Wrong-category button, or suggestions sent unedited)",
            "retrain_no_labels",
            needed=min_labels,
        )
    by_language = labels_by_language(labels, live)
    eligible = {k: v for k, v in by_language.items() if len(v) >= min_labels and k in shipped}
    if not eligible:
        counts = ", ".join(f"{k} {len(v)}" for k, v in sorted(by_language.items()))
        raise ShopModelError(
            f"too few labels to retrain: the shop has {len(labels)} ({counts});"
            f" at least {min_labels} in one language are needed",
            "retrain_too_few",
            count=len(labels),
            needed=min_labels,
        )
    weights: dict[str, LearnedWeights] = {}
    fits: list[LanguageFit] = []
    for language, subset in sorted(eligible.items()):
        weights[language], figures = fit_language(
            language, subset, live=live, base=shipped[language], config=config, version=version
        )
        fits.append(figures)
    skipped = {k: len(v) for k, v in by_language.items() if k not in eligible}
    return ShopFit(weights=weights, languages=fits, skipped=skipped)


@dataclass(frozen=True)
class TrainingResult:
    """A stored, activated version and its fit."""

    version_id: int
    previous_id: int | None
    fit: ShopFit


async def train_and_activate(
    *,
    db: Database,
    understanding: Understanding,
    created_by: int | None,
    min_labels: int = DEFAULT_MIN_LABELS,
    labels: Sequence[ShopLabel] | None = None,
) -> TrainingResult:
    """Fit the shop's model from its labels, store it as the active version (audited)."""
    await refresh_understanding(understanding, db)
    if labels is None:
        async with db.session() as session:
            labels = await labels_for_training(session=session)
    live = understanding.classifier
    fit = await asyncio.to_thread(
        fit_shop_model,
        labels,
        live=live,
        shipped=understanding.shop.shipped.learned,
        min_labels=min_labels,
    )
    blob = pack_model(fit.weights)
    async with db.transaction() as session:
        previous = await store.active_model_version_id(session=session)
        version_id = await store.add_model_version(
            session=session,
            created_by=created_by,
            label_counts=fit.label_counts(),
            accuracy_before=fit.accuracy_before,
            accuracy_after=fit.accuracy_after,
            weights=blob,
        )
        await store.activate_model_version(session=session, version_id=version_id)
        await store.bump_revision(session=session)
        await append_audit(
            session=session,
            actor_telegram_id=created_by,
            action=MODEL_TRAINED,
            target=f"model:{version_id}",
            details={
                "previous": previous,
                "languages": sorted(fit.weights),
                "counts": fit.label_counts(),
                "accuracy_before": round(fit.accuracy_before, 4),
                "accuracy_after": round(fit.accuracy_after, 4),
            },
        )
    await refresh_understanding(understanding, db)
    return TrainingResult(version_id=version_id, previous_id=previous, fit=fit)


async def rollback(*, db: Database, actor: int | None) -> tuple[int, int | None]:
    """Return to the version before the active one (or the shipped weights): (from, to)."""
    async with db.transaction() as session:
        await store.bump_revision(session=session)  # taken first: one rollback at a time
        active = await store.active_model_version_id(session=session)
        if active is None:
            raise ShopModelError("nothing to roll back: the shipped weights are in use")
        older = [v.id for v in await store.model_versions(session=session) if v.id < active]
        target = older[-1] if older else None
        await store.activate_model_version(session=session, version_id=target)
        await append_audit(
            session=session,
            actor_telegram_id=actor,
            action=MODEL_ROLLED_BACK,
            target=f"model:{active}",
            details={"from": active, "to": target},
        )
    return active, target


# --- shop words --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WordAdded:
    """A shop word saved, and what the supervisor should know about it."""

    word: ShopWord
    notes: list[WordNote]


async def add_word(
    *,
    db: Database,
    understanding: Understanding,
    request: WordRequest,
    actor: int | None,
    actor_name: str,
) -> WordAdded:
    """Check and save a shop word (audited), then rebuild this process's classifier.

    WordProblem (with its wording key) when refused; nothing is stored then.
    """
    shipped = understanding.shop.shipped
    async with db.transaction() as session:
        revision = await store.bump_revision(session=session)  # serialises concurrent /word
        current = [stored.word for stored in await store.shop_words(session=session)]
        word, notes = check_word(
            request,
            normalize=lambda text: shipped.normalize(text).text,
            rules=shipped.rules,
            words=current,
        )
        await store.save_shop_word(
            session=session, word=word, added_by=actor, added_by_name=actor_name
        )
        await append_audit(
            session=session,
            actor_telegram_id=actor,
            action=WORD_ADDED,
            target=f"word:{word.phrase}"[:256],
            details={
                "word": word.word,
                "phrase": word.phrase,
                "category": word.category.value,
                "weight": word.weight,
                "revision": revision,
                "notes": [note.key for note in notes],
            },
        )
    await refresh_understanding(understanding, db)
    return WordAdded(word, notes)


async def remove_word(
    *, db: Database, understanding: Understanding, word: str, actor: int | None
) -> ShopWord | None:
    """Remove a shop word (audited); None when there is no such word."""
    phrase = " ".join(understanding.shop.shipped.normalize(" ".join(word.split())).text.split())
    async with db.transaction() as session:
        revision = await store.bump_revision(session=session)
        removed = await store.remove_shop_word(session=session, phrase=phrase)
        if removed is None:
            return None  # (the bumped revision only makes each process rebuild once)
        await append_audit(
            session=session,
            actor_telegram_id=actor,
            action=WORD_REMOVED,
            target=f"word:{removed.phrase}"[:256],
            details={
                "word": removed.word,
                "phrase": removed.phrase,
                "category": removed.category.value,
                "revision": revision,
            },
        )
    await refresh_understanding(understanding, db)
    return removed


async def list_words(*, db: Database) -> list[store.StoredWord]:
    """The shop's words, oldest first, with who added each and when."""
    async with db.session() as session:
        return await store.shop_words(session=session)


# --- keeping a process current -----------------------------------------------------------------


async def read_revisions(db: Database) -> store.ShopRevisions:
    """The shop's two revisions (words and model; settings), one query for each poll."""
    async with db.session() as session:
        return await store.shop_revisions(session=session)


async def refresh_understanding(
    understanding: Understanding,
    db: Database,
    *,
    cache_dir: Path | None = None,
    known: int | None = None,
) -> bool:
    """Rebuild the classifier when the shop's revision moved; True when it was rebuilt.
    `known`: the revision just read by the caller (no query when it has not moved).

    A version whose weights cannot be read is skipped with one log line: the classifier keeps
    the model it had (the words still change).
    """
    state = understanding.shop
    if known is not None and known == state.revision:
        return False
    async with state.lock:
        async with db.session() as session:
            revision = await store.shop_revision(session=session)
            if revision == state.revision:
                return False
            words = [stored.word for stored in await store.shop_words(session=session)]
            active = await store.active_model_version_id(session=session)
            blob = None
            if (
                active is not None
                and active != state.model_version
                and active not in state.rejected | state.stale
            ):
                blob = await store.model_weights(session=session, version_id=active)
        shipped = state.shipped
        model_version, learned = state.model_version, state.learned
        if active is None or active in state.stale:
            model_version, learned = None, None
        elif blob is not None:
            try:
                loaded = await asyncio.to_thread(
                    unpack_model,
                    blob,
                    version=active,
                    cache_dir=cache_dir or _cache_dir(shipped),
                )
            except CorruptModel as exc:
                state.rejected.add(active)
                kept = f"version {model_version}" if model_version else "the shipped weights"
                log.error("shop model version %s not loaded (%s); keeping %s", active, exc, kept)
            else:
                model_version, learned = _current_model(state, loaded, active)
        understanding.classifier = shipped.rebuilt(
            with_shop_words(shipped.rules, words),
            learned if learned is not None else shipped.learned,
            model_version=model_version,
            shop_revision=revision,
        )
        state.revision, state.model_version, state.learned = revision, model_version, learned
        return True


def _cache_dir(classifier: Classifier) -> Path | None:
    found: Any = getattr(classifier.segmenter, "cache_dir", None)
    return found if isinstance(found, Path) else None


def _current_model(
    state: ShopState, loaded: Mapping[str, LearnedWeights], active: int
) -> tuple[int | None, dict[str, LearnedWeights] | None]:
    """The model version in use and its weights: the shipped ones (None, None) when the
    stored version is stale in every language (it is not loaded again, and stays stale if
    rolled back to)."""
    current = _fitted_on_shipped(loaded, state.shipped.learned, active)
    if not current:
        state.stale.add(active)
        return None, None
    return active, {**state.shipped.learned, **current}


def _fitted_on_shipped(
    loaded: Mapping[str, LearnedWeights], shipped: Mapping[str, LearnedWeights], version: int
) -> dict[str, LearnedWeights]:
    """The languages of a shop model refitted from the shipped weights in use; one fitted on
    other shipped weights (an upgrade brought new ones: other features, other clusters) is
    left for the shipped weights until the shop retrains, with one log line."""
    current = {}
    for language, weights in loaded.items():
        base = shipped.get(language)
        if base is not None and _refitted_from(weights, base):
            current[language] = weights
        else:
            log.warning(
                "shop model version %s (%s) was fitted on shipped weights %s, not on %s in use:"
                " the shipped weights classify until the shop retrains (/retrain)",
                version,
                language,
                weights.base_version or "of an earlier release",
                base.version if base is not None else "(none)",
            )
    return current


def _refitted_from(weights: LearnedWeights, base: LearnedWeights) -> bool:
    """Whether a shop's weights were refitted from `base`: by the version they name, or, for a
    model stored before versions were named, by what a refit copies unchanged (the biases,
    the temperature and the flag models)."""
    if weights.base_version:
        return weights.base_version == base.version
    model, shipped = weights.categories, base.categories
    return (
        model.labels == shipped.labels
        and model.bias == shipped.bias
        and model.temperature == shipped.temperature
        and weights.flags == base.flags
    )
