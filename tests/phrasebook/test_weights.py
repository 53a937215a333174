"""The learned weights files: round trip, the shipped ones, and clear errors for broken ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.learned import FlagModel, LearnedWeights, LinearModel
from bot.core.types import Flag
from bot.phrasebook.weights import load_weights, read_weights, top_features, write_weights
from bot.phrasebook.yamlfile import PhrasebookError

PHRASEBOOK = Path(__file__).resolve().parents[2] / "phrasebook"

WEIGHTS = LearnedWeights(
    language="zh",
    categories=LinearModel(
        ("quality", "inquiry"),
        (0.25, -0.25),
        {
            "w:坏了": ((0, 1.5),),
            "c:坏了": ((0, 0.5), (1, -0.5)),
            "s:question": ((1, 1.0),),
            "k:16/3": ((0, 0.75),),
        },
        temperature=1.3,
    ),
    flags=(FlagModel(Flag.ANGRY, -2.0, {"w:垃圾": 3.0}, 0.45),),
    needs_human_below=0.6,
    needs_human_upto=((6, 0.55), (24, 0.9)),
    version="test.1",
    clusters={"w:坏了": ("k:16/3", "k:64/40"), "w:坏掉": ("k:16/3", "k:64/41")},
)


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "weights" / "zh.tsv"
    write_weights(path, WEIGHTS, header=["a comment"])
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# a comment\n!language\tzh\n")
    assert "w:坏了\tquality=1.5000\n" in text
    assert "%坏掉\t16/3\t64/41\n" in text
    assert "!needs_human_upto\t6\t0.5500\n!needs_human_upto\t24\t0.9000\n" in text
    assert read_weights(path) == WEIGHTS
    assert read_weights(path).row("w:坏掉") == (0.75, 0.0, 0.0)  # its cluster's weight


def test_top_features_lists_words_only() -> None:
    top = top_features(WEIGHTS.categories)
    # 坏了 as a word (1.5) and as a character pair (0.5) is listed once, at its strongest.
    assert top["quality"] == [("w:坏了", 1.5)]
    assert top["inquiry"] == []  # s:question is a signal, not a word


def test_the_shipped_weights_load_for_both_languages() -> None:
    shipped = load_weights(PHRASEBOOK)
    assert set(shipped) == {"zh", "en"}
    for language, weights in shipped.items():
        assert weights.language == language
        assert len(weights.categories.labels) >= 10
        assert len(weights.categories.weights) > 1000
        assert 0.0 < weights.needs_human_below < 1.0


GOOD_HEAD = "!language\tzh\n!labels\tquality\tinquiry\n"


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ("!labels\tquality\tbogus\n", 1, "unknown category 'bogus'"),
        (GOOD_HEAD + "!colour\tred\n", 3, "unknown directive !colour"),
        (GOOD_HEAD + "w:坏了\tquality=lots\n", 3, "'lots' is not a number"),
        (GOOD_HEAD + "w:坏了\tquality=inf\n", 3, "not a finite number"),
        (GOOD_HEAD + "w:坏了\twrong_item=1\n", 3, "unknown target 'wrong_item'"),
        (GOOD_HEAD + "zz:坏了\tquality=1\n", 3, "unknown feature kind"),
        (GOOD_HEAD + "w:坏了\tquality 1\n", 3, "expected TARGET=WEIGHT"),
        (GOOD_HEAD + "w:坏了\tquality=1\nw:坏了\tinquiry=1\n", 4, "listed twice"),
        (GOOD_HEAD + "!flag\tsleepy\t0.5\n", 3, "known flag"),
        (GOOD_HEAD + "!temperature\tnan\n", 3, "not a finite number"),
        (GOOD_HEAD + "!temperature\t0\n", 3, "must be positive"),
        (GOOD_HEAD + "!needs_human_below\tabc\n", 3, "'abc' is not a number"),
        (GOOD_HEAD + "!needs_human_below\t1.5\n", 3, "not between 0 and 1"),
        (GOOD_HEAD + "!flag\tangry\t2\n", 3, "not between 0 and 1"),
        (GOOD_HEAD + "!needs_human_upto\t12\n", 3, "expected '!needs_human_upto<TAB>LENGTH"),
        (GOOD_HEAD + "!needs_human_upto\t0\t0.5\n", 3, "expected '!needs_human_upto"),
        (GOOD_HEAD + "!needs_human_upto\t00\t0.5\n", 3, "expected '!needs_human_upto"),
        (GOOD_HEAD + "!needs_human_upto\tten\t0.5\n", 3, "expected '!needs_human_upto"),
        (GOOD_HEAD + "!needs_human_upto\t\u00b2\t0.5\n", 3, "expected '!needs_human_upto"),
        (GOOD_HEAD + "!needs_human_upto\t12\t1.5\n", 3, "not between 0 and 1"),
        (
            GOOD_HEAD + "!needs_human_upto\t12\t0.5\n!needs_human_upto\t8\t0.4\n",
            4,
            "lengths must rise line by line",
        ),
        (
            GOOD_HEAD + "!needs_human_upto\t12\t0.5\n!needs_human_upto\t12\t0.4\n",
            4,
            "!needs_human_upto 12 is given twice",
        ),
        (GOOD_HEAD + "!labels\tquality\n", 3, "!labels is given twice"),
        ("!labels\tquality\tquality\n", 1, "a category is listed twice"),
        (GOOD_HEAD + "w:x\tquality=1\tquality=2\n", 3, "quality is given twice"),
        (GOOD_HEAD + "@bias\tquality=1\n@bias\tinquiry=1\n", 4, "listed twice"),
        (GOOD_HEAD + "%坏了\n", 3, "expected '%WORD<TAB>SIZE/CLUSTER"),
        (GOOD_HEAD + "%\t16/3\n", 3, "expected '%WORD<TAB>SIZE/CLUSTER"),
        (GOOD_HEAD + "%坏了\t16-3\n", 3, "expected SIZE/CLUSTER (cluster below size)"),
        (GOOD_HEAD + "%坏了\t16/16\n", 3, "cluster below size"),
        (GOOD_HEAD + "%坏了\t16/x\n", 3, "not '16/x'"),
        (GOOD_HEAD + "%坏了\t16/1\n%坏了\t16/2\n", 4, "clusters of 'w:坏了' are given twice"),
    ],
)
def test_broken_files_name_file_line_and_reason(
    tmp_path: Path, body: str, line: int, reason: str
) -> None:
    path = tmp_path / "zh.tsv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(PhrasebookError) as caught:
        read_weights(path)
    message = str(caught.value)
    assert f"zh.tsv:{line}" in message
    assert reason in message


def test_length_bands_without_a_threshold_for_longer_messages_are_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "zh.tsv"
    path.write_text(GOOD_HEAD + "!needs_human_upto\t12\t0.5\n", encoding="utf-8")
    with pytest.raises(PhrasebookError, match="need a !needs_human_below line"):
        read_weights(path)


def test_a_file_without_labels_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "en.tsv"
    path.write_text("!language\ten\n", encoding="utf-8")
    with pytest.raises(PhrasebookError, match="no !labels line"):
        read_weights(path)


def test_the_parse_is_cached_and_a_broken_cache_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "zh.tsv"
    write_weights(path, WEIGHTS)
    cache = tmp_path / "cache"
    assert read_weights(path, cache_dir=cache) == WEIGHTS
    [cached] = list(cache.glob("weights-zh-*.marshal"))
    assert read_weights(path, cache_dir=cache) == WEIGHTS  # read back from the cache
    cached.write_bytes(b"not marshal")
    assert read_weights(path, cache_dir=cache) == WEIGHTS  # parsed again, not trusted
    path.write_text(path.read_text(encoding="utf-8").replace("1.5000", "2.5000"), "utf-8")
    changed = read_weights(path, cache_dir=cache)
    assert changed.categories.weights["w:坏了"] == ((0, 2.5),)  # a new file, a new key


def test_a_flag_model_without_weights_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "zh.tsv"
    path.write_text(GOOD_HEAD + "!flag\turgent\t0.5\nw:x\tquality=1\n", encoding="utf-8")
    with pytest.raises(PhrasebookError, match="without weights: urgent"):
        read_weights(path)
