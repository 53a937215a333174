"""Defect 13.17: the HTML transcript as a real browser draws it (headless Chromium, CJK font).

The old template put `white-space: pre-wrap` on the whole bubble, so the template's own line
breaks and indentation became blank lines in every bubble. Here a transcript with Chinese text is
laid out by Chromium; a script in the page reports each bubble's layout, and the screenshot's
pixels are read independently: each bubble holds exactly its text's lines, with no blank band
taller than a fraction of a line, and the Chinese glyphs are drawn (different texts, different ink;
not empty, not the same box for every character).

Chromium is a development dependency: `scripts/bootstrap dev` installs it (Debian/Ubuntu, as
root); anywhere else this test fails and says what to install, it never skips.
"""

from __future__ import annotations

import asyncio
import html
import io
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from bot.core.types import Language
from bot.core.wording import Wording
from bot.export.transcript import TranscriptCase, TranscriptMessage, write_html
from bot.export.view import ExportView

INSTALL_HINT = (
    "the transcript test needs Chromium and a CJK font: run `scripts/bootstrap dev` as root on "
    "Debian/Ubuntu, or install them yourself (apt-get install -y chromium fonts-noto-cjk)"
)
WIDTH, HEIGHT = 900, 1300
IN_FILL, OUT_FILL = (241, 241, 241), (217, 242, 208)  # .in / .out bubble backgrounds
INK = 90  # darker than this is message text (#222); the who line (#666) and proof (#999) are not
# Message texts and their line counts: every line is short enough not to wrap.
TEXTS = [
    "还没收到货，快递到哪了？",
    "亲，马上为您查询物流\n今天下午给您回复",
    "第一行：包裹破了\n第二行：里面少了一件\n第三行：请尽快处理",
    "谢谢您耐心等待，辛苦了！",
]

MEASURE = """<script>
const box = el => {
  const s = getComputedStyle(el);
  return el.getBoundingClientRect().height + parseFloat(s.marginTop) + parseFloat(s.marginBottom);
};
document.title = JSON.stringify([...document.querySelectorAll('.bubble')].map(b => {
  const s = getComputedStyle(b);
  const inner = b.getBoundingClientRect().height - parseFloat(s.paddingTop)
    - parseFloat(s.paddingBottom);
  return {
    top: b.getBoundingClientRect().top,
    height: b.getBoundingClientRect().height,
    text: inner - box(b.querySelector('.who')) - box(b.querySelector('.proof')),
    line: parseFloat(s.lineHeight),
  };
}));
</script>
"""


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    if found is None:
        pytest.fail(f"Chromium is missing: {INSTALL_HINT}")
    fonts = subprocess.run(
        ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False
    )
    if not fonts.stdout.strip():
        pytest.fail(f"no Chinese font is installed: {INSTALL_HINT}")
    return found


def _case() -> TranscriptCase:
    messages = [
        TranscriptMessage(
            id=n,
            seq=n,
            hash=f"{n:064x}",
            direction="in" if n % 2 else "out",
            who="李小明" if n % 2 else "王客服",
            time=f"2026-11-20 09:0{n}:00",
            tags="未收到货" if n % 2 else "原样发送",
            text=text,
        )
        for n, text in enumerate(TEXTS, start=1)
    ]
    return TranscriptCase(
        id=1,
        title="案件 #1 会话记录",
        meta=[("买家", "李小明 (#1)"), ("状态", "核实中")],
        messages=messages,
        history_title="案件历史",
        history_header=["时间", "经过", "操作人", "详情"],
        history=[],
        footer="导出自客服系统",
    )


async def _html(wording: Wording) -> str:
    async def cases() -> AsyncIterator[TranscriptCase]:
        yield _case()

    out = io.BytesIO()
    view = ExportView(wording=wording, language=Language.ZH_HANS)
    await write_html(cases(), out, view)
    return out.getvalue().decode("utf-8")


def _run_chromium(page: Path, profile: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},{HEIGHT}",
        *mode,
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@dataclass(frozen=True)
class Band:
    """A run of screenshot rows painted with one bubble colour."""

    fill: tuple[int, int, int]
    top: int
    bottom: int  # exclusive
    left: int
    right: int  # exclusive

    @property
    def height(self) -> int:
        return self.bottom - self.top


def _bubbles(shot: Image.Image) -> list[Band]:
    """Each bubble's extent, found by its background colour row by row."""
    pixels = shot.load()
    assert pixels is not None
    bands: list[Band] = []
    current: tuple[tuple[int, int, int], int, int, int] | None = None
    for y in range(shot.height):
        hits = {}
        for fill in (IN_FILL, OUT_FILL):
            xs = [x for x in range(shot.width) if pixels[x, y][:3] == fill]
            if len(xs) >= 8:  # the bubble's side padding at least, even beside dense text
                hits[fill] = (xs[0], xs[-1] + 1)
        fill = next(iter(hits), None)
        if current is not None and fill != current[0]:
            bands.append(Band(current[0], current[1], y, current[2], current[3]))
            current = None
        if fill is not None and current is None:
            left, right = hits[fill]
            current = (fill, y, left, right)
        elif fill is not None and current is not None:
            left, right = hits[fill]
            current = (fill, current[1], min(current[2], left), max(current[3], right))
    return bands


def _ink_rows(shot: Image.Image, band: Band) -> list[bool]:
    """For each row of the bubble: does it hold message-text ink?"""
    grey = shot.convert("L").crop((band.left, band.top, band.right, band.bottom))
    width = grey.width
    data = grey.tobytes()
    return [min(data[y * width : (y + 1) * width]) < INK for y in range(grey.height)]


def _runs(flags: list[bool], value: bool) -> list[tuple[int, int]]:
    """(start, length) of each run of `value` in `flags`."""
    runs: list[tuple[int, int]] = []
    start = None
    for index, flag in enumerate([*flags, not value]):
        if flag == value and start is None:
            start = index
        elif flag != value and start is not None:
            runs.append((start, index - start))
            start = None
    return runs


def _text_lines(shot: Image.Image, band: Band) -> list[Image.Image]:
    """The message-text lines of a bubble, each cropped to its ink rows."""
    grey = shot.convert("L")
    return [
        grey.crop((band.left, band.top + start, band.right, band.top + start + length))
        for start, length in _runs(_ink_rows(shot, band), True)
    ]


@pytest.fixture(scope="module")
def chromium_page(
    tmp_path_factory: pytest.TempPathFactory, wording: Wording
) -> tuple[list[dict[str, float]], Image.Image]:
    """The transcript laid out by Chromium: the page's own measurements and a screenshot."""
    tmp_path = tmp_path_factory.mktemp("chromium")
    page = tmp_path / "transcript.html"
    page.write_text(asyncio.run(_html(wording)) + MEASURE, encoding="utf-8")
    dom = _run_chromium(page, tmp_path / "profile-dom", "--dump-dom").stdout
    title = dom[dom.index("<title>") + len("<title>") : dom.index("</title>")]
    measured = json.loads(html.unescape(title))
    shot_path = tmp_path / "shot.png"
    _run_chromium(page, tmp_path / "profile-shot", f"--screenshot={shot_path}")
    with Image.open(shot_path) as shot:
        return measured, shot.convert("RGB")


LINES = [text.count("\n") + 1 for text in TEXTS]


def test_defect_13_17_the_page_lays_each_bubble_out_as_its_lines(
    chromium_page: tuple[list[dict[str, float]], Image.Image],
) -> None:
    measured, _ = chromium_page
    # The text part of each bubble (between the who line and the proof) is its lines, no more.
    assert [round(m["text"] / m["line"], 1) for m in measured] == [float(n) for n in LINES]


def test_defect_13_17_the_screenshot_shows_no_blank_gaps_in_bubbles(
    chromium_page: tuple[list[dict[str, float]], Image.Image],
) -> None:
    measured, shot = chromium_page
    # One band of bubble colour per message, alternating buyer / shop, as tall as the page says.
    bubbles = _bubbles(shot)
    assert [b.fill for b in bubbles] == [IN_FILL, OUT_FILL, IN_FILL, OUT_FILL]
    assert [abs(b.height - m["height"]) <= 2 for b, m in zip(bubbles, measured, strict=True)] == [
        True
    ] * len(TEXTS)
    # Inside each: the message's lines of dark text, and no blank band taller than most of a
    # line (the old template left whole empty lines above and below the text).
    line = measured[0]["line"]
    for bubble, expected in zip(bubbles, LINES, strict=True):
        assert len(_text_lines(shot, bubble)) == expected
        drawn = [min(row) < 200 for row in _rows(shot, bubble)]
        gaps = [length for _, length in _runs(drawn, False)]
        assert max(gaps) < 0.75 * line, (bubble, gaps)


def _rows(shot: Image.Image, band: Band) -> list[bytes]:
    grey = shot.convert("L").crop((band.left + 4, band.top, band.right - 4, band.bottom))
    data = grey.tobytes()
    return [data[y * grey.width : (y + 1) * grey.width] for y in range(grey.height)]


def test_defect_13_17_chinese_glyphs_are_drawn_not_boxes(
    chromium_page: tuple[list[dict[str, float]], Image.Image],
) -> None:
    _, shot = chromium_page
    bubbles = _bubbles(shot)
    first, last = _text_lines(shot, bubbles[0])[0], _text_lines(shot, bubbles[3])[0]
    assert first.size[1] >= 10  # a line of text, not a dot
    # Both lines have twelve characters: tofu boxes would draw the same shape for each.
    size = (min(first.width, last.width), min(first.height, last.height))
    a, b = first.crop((0, 0, *size)).tobytes(), last.crop((0, 0, *size)).tobytes()
    differing = sum(1 for x, y in zip(a, b, strict=True) if abs(x - y) > 64)
    assert differing > len(a) // 20
