"""The jieba adapter: private tokenizer, user dictionary words kept whole, cache not in CWD."""

from __future__ import annotations

import logging
import random
import subprocess
import sys
from pathlib import Path

import jieba
import pytest

from bot.nlp.segment import JiebaSegmenter, default_cache_dir

REPO = Path(__file__).resolve().parents[2]
USERDICT = REPO / "phrasebook" / "userdict.txt"


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory: pytest.TempPathFactory) -> JiebaSegmenter:
    return JiebaSegmenter(userdict=USERDICT, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("这个人是差评师吧", "差评师"),
        ("我申请仅退款", "仅退款"),
        ("支持七天无理由吗", "七天无理由"),
        ("你们漏发了一个", "漏发"),
        ("物流停滞好几天", "物流停滞"),
        ("有没有运费险", "运费险"),
        ("好评返现怎么领", "好评返现"),
    ],
)
def test_user_dictionary_words_stay_whole(segmenter: JiebaSegmenter, text: str, word: str) -> None:
    assert word in segmenter.cut(text)


@pytest.mark.parametrize("text", ["", "收到是碎的，我要退货", "mixed English 和中文 123", " \n"])
def test_tokens_join_back_to_the_text(segmenter: JiebaSegmenter, text: str) -> None:
    assert "".join(segmenter.cut(text)) == text


def test_extra_words_are_added_to_the_private_tokenizer_only(segmenter: JiebaSegmenter) -> None:
    segmenter.add_words(["蓝莓果酱罐"])
    assert ("蓝莓果酱罐" in segmenter.cut("买了蓝莓果酱罐"), jieba.dt.FREQ.get("蓝莓果酱罐")) == (
        True,
        None,
    )


def test_private_tokenizer_is_not_the_global_one(segmenter: JiebaSegmenter) -> None:
    assert segmenter._tokenizer is not jieba.dt


def test_cache_goes_to_the_cache_dir_not_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    cache = tmp_path / "cache"
    seg = JiebaSegmenter(cache_dir=cache)
    assert (seg.cache_file.parent, seg.cache_file.is_file(), list(workdir.iterdir())) == (
        cache,
        True,
        [],
    )


def test_a_cached_start_reads_the_same_dictionary_as_a_fresh_build(tmp_path: Path) -> None:
    built = JiebaSegmenter(cache_dir=tmp_path)  # no cache yet: jieba builds and writes it
    cached = JiebaSegmenter(cache_dir=tmp_path)  # read back by the adapter
    text = "收到是碎的，我要退货，快递员说放在驿站了"
    assert (cached._tokenizer.FREQ == built._tokenizer.FREQ, cached.cut(text)) == (
        True,
        built.cut(text),
    )
    assert cached._tokenizer.total == built._tokenizer.total


@pytest.mark.parametrize("content", [b"", b"not marshal data", b"\xe9\x00\x00\x00\x00"])
def test_a_broken_cache_is_rebuilt(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "jieba.cache").write_bytes(content)
    seg = JiebaSegmenter(cache_dir=tmp_path)
    assert (len(seg._tokenizer.FREQ) > 100_000, seg.cut("我申请退货")) == (
        True,
        ["我", "申请", "退货"],
    )


def test_jieba_works_without_pkg_resources(tmp_path: Path) -> None:
    # a fresh process and an empty cache: jieba finds its own dictionary by a plain path
    code = (
        "import sys; from pathlib import Path; from bot.nlp.segment import JiebaSegmenter; "
        f"seg = JiebaSegmenter(cache_dir=Path({str(tmp_path)!r})); "
        "print('pkg_resources' in sys.modules, seg.cut('我申请退货'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False ['我', '申请', '退货']"


def test_default_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "kefu"


def test_default_cache_dir_without_xdg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == Path.home() / ".cache" / "kefu"


def test_jieba_is_quiet_at_default_level(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    JiebaSegmenter(cache_dir=tmp_path)
    assert (
        "Building prefix dict" in capsys.readouterr().err,
        logging.getLogger("jieba").level,
    ) == (
        False,
        logging.WARNING,
    )


# Texts where jieba's own no-HMM cut has something to decide: ties, single letters and digits
# joined, prefixes that are no word, blocks split on spaces and punctuation, unknown scripts.
JIEBA_EDGES = [
    "",
    " ",
    "\r\n\r\n",
    "a",
    "ab12 cd",
    "iPhone12屏幕坏了!!",
    "测试abc测试123  ",
    "x-1_2.3%4#5&6+7",
    "😀😀好评😀",
    "\u3000全角　空格",
    "南京市长江大桥",
    "结婚的和尚未结婚的",
    "研究生命起源",
    "工信处女干事每月经过下属科室",
    "收到是碎的，我要退货，快递员说放在驿站了",
    "買了一件衫，唔啱size，點退貨？",
    "ไม่ได้รับสินค้า",
    "а я не получил",
    "差评师差评差评师",
    "a" * 60 + "好" * 60,
]


@pytest.mark.parametrize("text", JIEBA_EDGES)
def test_the_cut_is_jiebas_own_token_for_token(segmenter: JiebaSegmenter, text: str) -> None:
    tokenizer = segmenter._tokenizer
    assert segmenter.cut(text) == tokenizer.lcut(text, HMM=False)


def test_the_cut_matches_jieba_on_random_mixed_text(segmenter: JiebaSegmenter) -> None:
    # Dictionary words, their pieces, letters, digits, spaces and punctuation run together,
    # so ties, prefixes and joined letters come up thousands of times.
    rng = random.Random(7)
    words = ["差评师", "仅退款", "七天无理由", "南京", "长江大桥", "市长", "和尚"]
    alphabet = [*words, *"的了是我要退货碎好差评坏收到快递abcXYZ019 ，,.!?-_%#&+\n😀"]
    texts = ["".join(rng.choices(alphabet, k=rng.randint(1, 80))) for _ in range(3_000)]
    tokenizer = segmenter._tokenizer
    differ = [t for t in texts if segmenter.cut(t) != tokenizer.lcut(t, HMM=False)]
    assert differ == []


def test_words_added_later_are_cut_whole(tmp_path: Path) -> None:
    seg = JiebaSegmenter(cache_dir=tmp_path)
    before = seg.cut("我买的蓝莓果酱罐裂了")
    seg.add_words(["蓝莓果酱罐"])
    assert ("蓝莓果酱罐" in before, "蓝莓果酱罐" in seg.cut("我买的蓝莓果酱罐裂了")) == (
        False,
        True,
    )
