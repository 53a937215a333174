"""The shop's model and shop words on real migrated SQLite and PostgreSQL (issue 15 parts 3, 4)."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.core.learned import LearnedWeights
from bot.core.shop_words import WordProblem, WordRequest
from bot.core.types import Category
from bot.phrasebook.rules import load_rules
from bot.phrasebook.shop_export import shop_words_yaml
from bot.service import model_blob, shop_model
from bot.storage import shop_model as store
from bot.storage.database import Database
from bot.storage.verify import verify_chain
from bot.understanding import Understanding, load_understanding
from tests.service.monitor_shop import UNSEEN, WORD, corrections

PHRASEBOOK = Path(__file__).resolve().parents[2] / "phrasebook"


@pytest.fixture(scope="module")
def shipped() -> Understanding:
    return load_understanding(PHRASEBOOK)


@pytest.fixture
def understanding(shipped: Understanding) -> Understanding:
    """A fresh process's understanding (its own shop state) over the shipped classifier."""
    return Understanding(classifier=shipped.shop.shipped, phrasebook=shipped.phrasebook)


async def _actions(db: Database) -> list[str]:
    async with db.session() as session:
        rows = await session.execute(text("SELECT action FROM audit_log ORDER BY seq"))
        return [row.action for row in rows]


def _categories(understanding: Understanding) -> list[Category]:
    return [understanding.classifier.classify(message).category for message in UNSEEN]


async def _activate(db: Database, blob: bytes) -> int:
    """Store a model version's weights as given, make it the active one; its id."""
    async with db.transaction() as session:
        version = await store.add_model_version(
            session=session,
            created_by=None,
            label_counts={},
            accuracy_before=None,
            accuracy_after=None,
            weights=blob,
        )
        await store.activate_model_version(session=session, version_id=version)
        await store.bump_revision(session=session)
    return version


async def _stored_weights(db: Database, version_id: int) -> dict[str, LearnedWeights]:
    """The weights a stored model version holds, read back."""
    async with db.session() as session:
        blob = await store.model_weights(session=session, version_id=version_id)
    assert blob is not None
    return model_blob.unpack_model(blob, version=version_id, cache_dir=None)


async def test_retraining_teaches_the_shops_word_to_every_process(
    db: Database, understanding: Understanding, shipped: Understanding
) -> None:
    assert set(_categories(understanding)) != {Category.QUALITY}  # the shipped model is wrong

    result = await shop_model.train_and_activate(
        db=db, understanding=understanding, created_by=42, labels=corrections()
    )

    assert _categories(understanding) == [Category.QUALITY] * len(UNSEEN)
    assert understanding.classifier.classify(UNSEEN[0]).model_version == result.version_id
    counts = result.fit.label_counts()
    assert (counts["labels"], counts["corrections"], counts["held_out"]) == (20, 20, 4)
    assert result.fit.accuracy_after == 1.0
    assert result.fit.accuracy_before is not None
    assert result.fit.accuracy_before < result.fit.accuracy_after
    other = Understanding(classifier=shipped.shop.shipped, phrasebook=shipped.phrasebook)
    assert await shop_model.refresh_understanding(other, db) is True
    assert other.classifier.model_version == result.version_id
    assert _categories(other) == [Category.QUALITY] * len(UNSEEN)
    async with db.session() as session:
        [version] = await store.model_versions(session=session)
    assert (version.active, version.created_by, version.accuracy_after) == (True, 42, 1.0)
    assert await _actions(db) == [shop_model.MODEL_TRAINED]
    assert (await verify_chain(engine=db.engine, attachments=None)).ok


async def test_too_few_labels_are_refused_in_one_line(
    db: Database, understanding: Understanding
) -> None:
    with pytest.raises(shop_model.ShopModelError) as refused:
        await shop_model.train_and_activate(
            db=db, understanding=understanding, created_by=None, labels=corrections(19)
        )
    assert str(refused.value) == (
        "too few labels to retrain: the shop has 19 (zh 19); at least 20 in one language are needed"
    )
    async with db.session() as session:
        assert await store.model_versions(session=session) == []


async def test_an_empty_label_set_is_refused(db: Database, understanding: Understanding) -> None:
    with pytest.raises(shop_model.ShopModelError) as refused:
        await shop_model.train_and_activate(
            db=db, understanding=understanding, created_by=None, labels=[]
        )
    assert (refused.value.key, "\n" in str(refused.value)) == ("retrain_no_labels", False)


async def test_a_corrupt_model_keeps_the_previous_one_and_says_so_once(
    db: Database, understanding: Understanding, caplog: pytest.LogCaptureFixture
) -> None:
    first = await shop_model.train_and_activate(
        db=db, understanding=understanding, created_by=None, labels=corrections()
    )
    broken = await _activate(db, b"\x78\x9cnot a model")
    caplog.set_level(logging.ERROR, logger="bot.service.shop_model")

    assert await shop_model.refresh_understanding(understanding, db) is True
    await shop_model.add_word(  # a later change: still no second line, words still change
        db=db,
        understanding=understanding,
        request=WordRequest("串色", "quality"),
        actor=None,
        actor_name="",
    )

    assert understanding.classifier.model_version == first.version_id
    assert _categories(understanding) == [Category.QUALITY] * len(UNSEEN)
    assert understanding.classifier.classify("屏幕串色").category is Category.QUALITY
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        f"shop model version {broken} not loaded (not a compressed model: Error -3 while"
        f" decompressing data: invalid block type); keeping version {first.version_id}"
    ]


async def test_a_model_fitted_on_other_shipped_weights_is_left_until_the_shop_retrains(
    db: Database,
    understanding: Understanding,
    shipped: Understanding,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An upgrade shipped new weights (other features, other clusters): a shop model refitted
    from the old ones would read today's features with yesterday's weights. It is left for
    the shipped weights, with one line saying why and what to do."""
    trained = await shop_model.train_and_activate(
        db=db, understanding=understanding, created_by=None, labels=corrections()
    )
    fitted = await _stored_weights(db, trained.version_id)
    assert fitted["zh"].base_version == shipped.shop.shipped.learned["zh"].version
    older = {
        k: dataclasses.replace(w, base_version="zh-0000000000-seed1") for k, w in fitted.items()
    }
    stale = await _activate(db, model_blob.pack_model(older))
    caplog.set_level(logging.WARNING, logger="bot.service.shop_model")
    other = Understanding(classifier=shipped.shop.shipped, phrasebook=shipped.phrasebook)

    assert await shop_model.refresh_understanding(other, db) is True

    assert _categories(other) == _categories(
        Understanding(classifier=shipped.shop.shipped, phrasebook=shipped.phrasebook)
    )
    assert set(_categories(other)) != {Category.QUALITY}  # the shop's word is not read
    assert other.classifier.classify(UNSEEN[0]).model_version is None  # the shipped weights
    [line] = [r.getMessage() for r in caplog.records]
    assert f"shop model version {stale} (zh) was fitted on shipped weights zh-0000000000" in line
    assert "until the shop retrains (/retrain)" in line

    # The shop retrains, then rolls back to the stale version: still the shipped weights, in
    # this process (which rejected it) as in a fresh one, never the newer model.
    newer = await shop_model.train_and_activate(
        db=db, understanding=other, created_by=None, labels=corrections()
    )
    assert other.classifier.classify(UNSEEN[0]).model_version == newer.version_id
    assert await shop_model.rollback(db=db, actor=7) == (newer.version_id, stale)
    fresh = Understanding(classifier=shipped.shop.shipped, phrasebook=shipped.phrasebook)
    for process in (other, fresh):
        assert await shop_model.refresh_understanding(process, db) is True
        assert process.classifier.classify(UNSEEN[0]).model_version is None


async def test_a_model_stored_before_versions_were_named_is_kept_if_refitted_from_these(
    db: Database, understanding: Understanding, shipped: Understanding
) -> None:
    """A model stored without `!base`: refitted from the weights in use when what a refit
    copies unchanged (biases, temperature, flag models) is theirs."""
    trained = await shop_model.train_and_activate(
        db=db, understanding=understanding, created_by=None, labels=corrections()
    )
    fitted = await _stored_weights(db, trained.version_id)
    unnamed = {k: dataclasses.replace(w, base_version="") for k, w in fitted.items()}
    other_bias = {
        k: dataclasses.replace(
            w,
            base_version="",
            categories=dataclasses.replace(
                w.categories, bias=tuple(b + 0.5 for b in w.categories.bias)
            ),
        )
        for k, w in fitted.items()
    }
    for weights, kept in ((unnamed, True), (other_bias, False)):
        version = await _activate(db, model_blob.pack_model(weights))
        process = Understanding(classifier=shipped.shop.shipped, phrasebook=shipped.phrasebook)
        await shop_model.refresh_understanding(process, db)
        used = process.classifier.classify(UNSEEN[0]).model_version
        assert used == (version if kept else None)


async def test_a_model_whose_weights_do_not_parse_is_not_loaded(db: Database) -> None:
    blob = model_blob.pack_model({})
    with pytest.raises(model_blob.CorruptModel, match="no weights in it"):
        model_blob.unpack_model(blob, version=1, cache_dir=None)
    import json
    import zlib

    bad = {"format": model_blob.MODEL_FORMAT, "weights": {"zh": "!labels\tnot_a_category\n"}}
    with pytest.raises(model_blob.CorruptModel, match="unknown category 'not_a_category'"):
        model_blob.unpack_model(zlib.compress(json.dumps(bad).encode()), version=1, cache_dir=None)


async def test_rollback_goes_back_one_version_then_to_the_shipped_weights(
    db: Database, understanding: Understanding
) -> None:
    one = await shop_model.train_and_activate(
        db=db, understanding=understanding, created_by=None, labels=corrections()
    )
    two = await shop_model.train_and_activate(
        db=db, understanding=understanding, created_by=None, labels=corrections()
    )

    assert await shop_model.rollback(db=db, actor=7) == (two.version_id, one.version_id)
    await shop_model.refresh_understanding(understanding, db)
    assert understanding.classifier.model_version == one.version_id
    assert await shop_model.rollback(db=db, actor=7) == (one.version_id, None)
    await shop_model.refresh_understanding(understanding, db)
    assert understanding.classifier.model_version is None
    assert set(_categories(understanding)) != {Category.QUALITY}
    with pytest.raises(shop_model.ShopModelError, match="nothing to roll back"):
        await shop_model.rollback(db=db, actor=7)
    assert (await _actions(db))[-2:] == [shop_model.MODEL_ROLLED_BACK] * 2


async def test_a_shop_word_wins_at_once_in_every_process_and_is_audited(
    db: Database, understanding: Understanding, shipped: Understanding
) -> None:
    other = Understanding(classifier=shipped.shop.shipped, phrasebook=shipped.phrasebook)
    await shop_model.refresh_understanding(other, db)
    message = "面霜漏液了，能退吗"
    before = understanding.classifier.classify(message).category

    added = await shop_model.add_word(
        db=db,
        understanding=understanding,
        request=WordRequest("漏液", "not_as_described", 2.0),
        actor=5,
        actor_name="Sam",
    )
    assert understanding.classifier.classify(message).category is Category.NOT_AS_DESCRIBED
    assert await shop_model.refresh_understanding(other, db) is True
    assert other.classifier.classify(message).category is Category.NOT_AS_DESCRIBED
    assert [note.key for note in added.notes] == ["was_evidence"]
    [stored] = await shop_model.list_words(db=db)
    assert (stored.word.word, stored.added_by, stored.added_by_name) == ("漏液", 5, "Sam")

    removed = await shop_model.remove_word(db=db, understanding=understanding, word="漏液", actor=5)
    assert removed is not None
    assert await shop_model.refresh_understanding(other, db) is True
    assert other.classifier.classify(message).category is before
    assert await shop_model.remove_word(db=db, understanding=other, word="漏液", actor=5) is None
    assert await _actions(db) == [shop_model.WORD_ADDED, shop_model.WORD_REMOVED]
    assert (await verify_chain(engine=db.engine, attachments=None)).ok


async def test_a_refused_word_stores_nothing(db: Database, understanding: Understanding) -> None:
    await shop_model.add_word(
        db=db,
        understanding=understanding,
        request=WordRequest(WORD, "quality"),
        actor=5,
        actor_name="Sam",
    )
    for request, key in [
        (WordRequest(WORD, "wrong_item"), "taken"),
        (WordRequest("掉色", "colour"), "unknown_category"),
    ]:
        with pytest.raises(WordProblem) as refused:
            await shop_model.add_word(
                db=db, understanding=understanding, request=request, actor=5, actor_name="Sam"
            )
        assert refused.value.key == key
    assert [w.word.category for w in await shop_model.list_words(db=db)] == [Category.QUALITY]
    assert await _actions(db) == [shop_model.WORD_ADDED]


async def test_exported_shop_words_load_as_phrasebook_overrides(
    db: Database, understanding: Understanding, tmp_path: Path
) -> None:
    for word, category in [(WORD, "quality"), ("Fits Small", "not_as_described")]:
        await shop_model.add_word(
            db=db,
            understanding=understanding,
            request=WordRequest(word, category, 2.5 if category == "quality" else 3.0),
            actor=5,
            actor_name="Sam",
        )
    stored = await shop_model.list_words(db=db)
    exported = shop_words_yaml(
        [(s.word, s.added_by_name, s.added_at) for s in stored],
        shop_name="显示器店",
        exported_at=stored[0].added_at,
    )
    rules_dir = tmp_path / "rules"
    shutil.copytree(PHRASEBOOK / "rules", rules_dir)
    (rules_dir / "90-shop.yaml").write_text(exported, encoding="utf-8")

    rules = load_rules(rules_dir)

    assert rules.phrases[WORD].override == ((Category.QUALITY, 2.5),)
    assert rules.phrases["fits small"].override == ((Category.NOT_AS_DESCRIBED, 3.0),)
    assert understanding.classifier.rules.phrases[WORD] == rules.phrases[WORD]
