"""The corpus files: agreement and kappa, usable labels, the frozen split, held-out keys."""

from __future__ import annotations

import hashlib
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from bot.corpus.labels import (
    DoubleLabel,
    agreement,
    format_flags,
    parse_flags,
    read_labels,
    read_messages,
    write_labels,
)
from bot.corpus.pool import Draw, draw_pool, eligible, split_of, text_key
from bot.corpus.sources import SourceText

REPO = Path(__file__).resolve().parents[2]


def label(category_a: str, category_b: str, flags_a: str = "-", flags_b: str = "-") -> DoubleLabel:
    return DoubleLabel(
        "x", "A", category_a, parse_flags(flags_a), "B", category_b, parse_flags(flags_b)
    )


def test_kappa_of_a_known_table() -> None:
    # 10 messages: 8 agreed; A says quality 5 / inquiry 5, B says quality 5 / inquiry 5.
    labels = [label("quality", "quality")] * 4 + [label("inquiry", "inquiry")] * 4
    labels += [label("quality", "inquiry"), label("inquiry", "quality")]
    result = agreement(labels)
    assert (result.total, result.agreed) == (10, 8)
    assert result.rate == pytest.approx(0.8)
    assert result.kappa == pytest.approx((0.8 - 0.5) / (1 - 0.5))


def test_kappa_with_different_marginals() -> None:
    # A: quality 6 / inquiry 4; B: quality 3 / inquiry 7; agreed on 3 quality + 4 inquiry.
    labels = [label("quality", "quality")] * 3 + [label("quality", "inquiry")] * 3
    labels += [label("inquiry", "inquiry")] * 4
    result = agreement(labels)
    expected = (0.6 * 0.3) + (0.4 * 0.7)  # chance agreement from each labeller's own shares
    assert result.kappa == pytest.approx((0.7 - expected) / (1 - expected))


def test_usable_means_agreed_and_not_skipped_and_flags_are_shared() -> None:
    assert label("quality", "quality", "angry,urgent", "angry").usable
    assert label("quality", "quality", "angry,urgent", "angry").flags == {"angry"}
    assert not label("skip", "skip").usable
    assert not label("quality", "inquiry").usable


def test_flags_round_trip() -> None:
    assert format_flags(parse_flags("urgent, angry")) == "angry,urgent"
    assert parse_flags("-") == frozenset()
    assert format_flags([]) == "-"


def test_labels_file_round_trip(tmp_path: Path) -> None:
    items = [label("quality", "inquiry", "angry", "-")]
    write_labels(tmp_path / "labels.tsv", items)
    assert read_labels(tmp_path / "labels.tsv") == items


def test_heldout_key_is_the_shared_readme_function() -> None:
    def readme_key(text: str) -> str:
        t = unicodedata.normalize("NFKC", text).casefold()
        return hashlib.sha256("".join(t.split()).encode("utf-8")).hexdigest()

    for text in ["还没收到货", "Ｗhere is MY parcel ?", "  收到 是 碎的 "]:
        assert text_key(text) == readme_key(text)


def test_eligible_drops_excluded_duplicate_and_odd_lengths() -> None:
    texts = [
        SourceText("s:1", "还没收到货", "g1", "zh"),
        SourceText("s:2", "还 没收到货", "g2", "zh"),  # same key as s:1
        SourceText("s:3", "held out text", "g3", "en"),
        SourceText("s:4", "a", "g4", "en"),
        SourceText("s:5", "质量太差了", "g5", "zh"),
    ]
    kept = eligible(texts, excluded_keys={text_key("held out text")})
    assert [t.source_id for t in kept] == ["s:1", "s:5"]


def test_split_is_frozen_by_group_and_about_a_fifth() -> None:
    groups = [f"jddc:{i}" for i in range(5000)]
    counts = Counter(split_of(group) for group in groups)
    assert 0.18 < counts["test"] / len(groups) < 0.22


LATER_TEST = "test2"  # test-side groups first drawn in round 6, after the freeze
SET_ASIDE = "train-r6"  # training-side round-6 texts, labelled but not trained on (see README)
SIDE_OF_SPLIT = {"train": "train", SET_ASIDE: "train", "test": "test", LATER_TEST: "test"}
FROZEN_TEST_SIZE = 1802  # messages in the test split, unchanged since it was frozen


def test_the_committed_corpus_keeps_every_group_on_one_side() -> None:
    """Every message sits on its group's side; test-side messages drawn after the freeze are
    the separate `test2` split, so the frozen `test` split never changes."""
    messages = read_messages(REPO / "corpus" / "messages.tsv")
    assert len(messages) >= 5000
    sides: dict[str, set[str]] = {}
    for message in messages:
        side = split_of(message.group)
        assert message.split == side or (message.split, side) in {
            (LATER_TEST, "test"),
            (SET_ASIDE, "train"),
        }
        sides.setdefault(message.group, set()).add(SIDE_OF_SPLIT[message.split])
    assert all(len(s) == 1 for s in sides.values())
    assert sum(1 for m in messages if m.split == "test") == FROZEN_TEST_SIZE


def test_draw_pool_is_seeded_and_draws_cues_from_the_rest() -> None:
    texts = [
        SourceText(f"src:{i}", f"第{i}条 差评" if i % 2 else f"第{i}条", "g", "zh")
        for i in range(40)
    ]
    first = draw_pool(texts, random_draws=[Draw("src", 5)], cue_draws=[Draw("review", 5)], seed=3)
    again = draw_pool(texts, random_draws=[Draw("src", 5)], cue_draws=[Draw("review", 5)], seed=3)
    assert first == again
    ids = [t.source_id for t, _ in first]
    assert len(ids) == len(set(ids)) == 10
    assert all("差评" in t.text for t, why in first if why == "cue:review")
