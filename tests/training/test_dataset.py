"""Nothing held out is ever fitted: `kefu train` leaves out every text the shared folder lists."""

from __future__ import annotations

from pathlib import Path

from bot.corpus.pool import text_key
from bot.training.dataset import Example, read_held_out, without_held_out


def _example(text: str) -> Example:
    return Example(text, text, "quality", frozenset(), "zh", text, "train", "corpus")


def test_held_out_texts_are_left_out_whatever_their_width_case_or_spacing(tmp_path: Path) -> None:
    (tmp_path / "heldout.sha256").write_text(
        f"{text_key('鞋底开胶了')}\n{text_key('It BROKE after a week')}\n", encoding="utf-8"
    )
    keys = read_held_out(tmp_path)
    examples = [
        _example(t)
        for t in ("鞋底 开胶了 ", "用了两天就坏了", "it broke after a week", "ｉｔ broke")
    ]
    assert [e.text for e in without_held_out(examples, keys)] == ["用了两天就坏了", "ｉｔ broke"]


def test_a_folder_without_the_list_holds_nothing_out(tmp_path: Path) -> None:
    assert read_held_out(tmp_path) == set()
    assert without_held_out([_example("鞋底开胶了")], set()) == [_example("鞋底开胶了")]
