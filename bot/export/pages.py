"""The transcript drawn as JPEG pages for platform appeals (gif/jpg up to 200 KB each) and as a PDF."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw, ImageFont

from bot.export.fonts import cjk_font_path
from bot.export.transcript import TranscriptCase, TranscriptMessage

PAGE_LIMIT_BYTES = 200 * 1024
PageLabel = Callable[[int, int], str]  # (page number, pages) -> "page 1 of 3"
WIDTH, HEIGHT = 1080, 1520
MARGIN = 48
BUBBLE_PAD = 18
FOOTER_SPACE = 90  # two footer lines at the bottom of every page
TEXT_SIZE = 30
SMALL_SIZE = 22
TITLE_SIZE = 38
IN_FILL, OUT_FILL, INK, GREY = (238, 238, 238), (214, 240, 204), (20, 20, 20), (110, 110, 110)
STAMP_INK = (192, 0, 0)  # the broken-chain warning, in the top margin of every page
STAMP_TOP = 12
# Under the limit at this quality or better; below it the page is drawn smaller.
QUALITIES = (85, 75, 65, 55, 45, 35)


@dataclass(frozen=True, slots=True)
class _Fonts:
    text: ImageFont.FreeTypeFont
    small: ImageFont.FreeTypeFont
    title: ImageFont.FreeTypeFont


def _fonts() -> _Fonts:
    path = str(cjk_font_path())
    return _Fonts(
        text=ImageFont.truetype(path, TEXT_SIZE, index=0),
        small=ImageFont.truetype(path, SMALL_SIZE, index=0),
        title=ImageFont.truetype(path, TITLE_SIZE, index=0),
    )


def wrap(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """Lines of `text` no wider than `width` (CJK breaks anywhere, Latin at spaces when it can)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for char in paragraph:
            if font.getlength(line + char) <= width:
                line += char
                continue
            cut = line.rfind(" ")
            if char != " " and cut > len(line) - 12 and cut > 0:
                lines.append(line[:cut])
                line = line[cut + 1 :] + char
            else:
                lines.append(line)
                line = "" if char == " " else char
        lines.append(line)
    return lines


class _Canvas:
    """Pages being drawn; a new page starts when the next block does not fit."""

    def __init__(self, fonts: _Fonts, footer: str) -> None:
        self.fonts = fonts
        self.footer = footer
        self.pages: list[Image.Image] = []
        self._pending: list[tuple[Image.Image, tuple[int, int]]] = []
        self._pending_text: list[
            tuple[str, tuple[int, int], ImageFont.FreeTypeFont, tuple[int, int, int]]
        ] = []
        self._new_page()

    def _new_page(self) -> None:
        self.image = Image.new("RGB", (WIDTH, HEIGHT), "white")
        self.draw = ImageDraw.Draw(self.image)
        self.y = MARGIN
        self.pages.append(self.image)

    def room(self, height: int) -> None:
        if self.y + height > HEIGHT - MARGIN - FOOTER_SPACE and self.y > MARGIN:
            self._new_page()

    def lines(
        self, lines: list[str], font: ImageFont.FreeTypeFont, fill: tuple[int, int, int]
    ) -> None:
        step = int(font.size * 1.45)
        for line in lines:
            self.room(step)
            self.draw.text((MARGIN, self.y), line, font=font, fill=fill)
            self.y += step

    def bubble(
        self,
        header: str,
        body: list[str],
        proof: str,
        images: list[Image.Image],
        *,
        outgoing: bool,
    ) -> None:
        text_font, small = self.fonts.text, self.fonts.small
        line_step, small_step = int(TEXT_SIZE * 1.45), int(SMALL_SIZE * 1.45)
        inner = int(WIDTH * 0.72)
        width = max(
            [small.getlength(header), small.getlength(proof)]
            + [text_font.getlength(line) for line in body]
            + [float(img.width) for img in images]
        )
        box_width = int(min(inner, width) + 2 * BUBBLE_PAD)
        x = WIDTH - MARGIN - box_width if outgoing else MARGIN
        # Each piece may start a new page: long messages continue on the next one.
        pieces: list[tuple[str, object]] = [("small", header)]
        pieces += [("text", line) for line in body]
        pieces += [("image", img) for img in images]
        pieces.append(("proof", proof))
        fill = OUT_FILL if outgoing else IN_FILL
        self.room(small_step + line_step + 2 * BUBBLE_PAD)
        top = self.y
        self.y += BUBBLE_PAD
        for kind, piece in pieces:
            height = (
                piece.height + 8  # type: ignore[attr-defined]
                if kind == "image"
                else (line_step if kind == "text" else small_step)
            )
            if self.y + height > HEIGHT - MARGIN - FOOTER_SPACE:
                self._close_box(x, top, box_width, fill)
                self._new_page()
                top = self.y
                self.y += BUBBLE_PAD
            if kind == "image":
                assert isinstance(piece, Image.Image)
                self._pending.append((piece, (x + BUBBLE_PAD, self.y)))
            else:
                font = text_font if kind == "text" else small
                colour = INK if kind == "text" else GREY
                self._pending_text.append((str(piece), (x + BUBBLE_PAD, self.y), font, colour))
            self.y += height
        self._close_box(x, top, box_width, fill)
        self.y += BUBBLE_PAD + 10

    def _close_box(self, x: int, top: int, width: int, fill: tuple[int, int, int]) -> None:
        bottom = self.y + BUBBLE_PAD
        self.draw.rounded_rectangle((x, top, x + width, bottom), radius=16, fill=fill)
        for image, at in self._pending:
            self.image.paste(image, at)
        for text, at, font, colour in self._pending_text:
            self.draw.text(at, text, font=font, fill=colour)
        self._pending, self._pending_text = [], []

    def finish(self, page_label: PageLabel, stamp: str | None = None) -> list[Image.Image]:
        total = len(self.pages)
        for number, page in enumerate(self.pages, start=1):
            draw = ImageDraw.Draw(page)
            if stamp:
                line = wrap(stamp, self.fonts.small, WIDTH - 2 * MARGIN)[0]
                draw.text((MARGIN, STAMP_TOP), line, font=self.fonts.small, fill=STAMP_INK)
            footer = f"{self.footer}  ·  {page_label(number, total)}"
            for index, line in enumerate(wrap(footer, self.fonts.small, WIDTH - 2 * MARGIN)[:2]):
                draw.text(
                    (MARGIN, HEIGHT - MARGIN - 28 + index * 26 - 26),
                    line,
                    font=self.fonts.small,
                    fill=GREY,
                )
        return self.pages


def _thumbnail(path: Path) -> Image.Image | None:
    try:
        with Image.open(path) as source:
            image = source.convert("RGB")
    except (OSError, ValueError):
        return None
    image.thumbnail((560, 520))
    return image


def draw_pages(
    case: TranscriptCase, *, page_label: PageLabel, stamp: str | None = None
) -> list[Image.Image]:
    """The case drawn on 1080-pixel-wide pages; `stamp` (a broken chain) atop every page."""
    fonts = _fonts()
    canvas = _Canvas(fonts, case.footer)
    canvas.lines(wrap(case.title, fonts.title, WIDTH - 2 * MARGIN), fonts.title, INK)
    canvas.y += 8
    for label, value in case.meta:
        canvas.lines(wrap(f"{label}: {value}", fonts.small, WIDTH - 2 * MARGIN), fonts.small, GREY)
    canvas.y += 16
    inner = int(WIDTH * 0.72)
    for message in case.messages:
        images = [
            thumb
            for a in message.attachments
            if a.is_image and a.path is not None and (thumb := _thumbnail(a.path)) is not None
        ]
        labels = [a.label for a in message.attachments if not (a.is_image and a.path)]
        body = wrap(message.text, fonts.text, inner) if message.text else []
        for label in labels:
            body += wrap(label, fonts.text, inner)
        header = f"{message.who} · {message.time}" + (f" · {message.tags}" if message.tags else "")
        canvas.bubble(
            wrap(header, fonts.small, inner)[0],
            body,
            f"#{message.seq} {message.hash[:32]}…",
            images,
            outgoing=message.direction == "out",
        )
    canvas.y += 10
    canvas.lines([case.history_title], fonts.text, INK)
    for event in case.history:
        line = " · ".join(p for p in (event.time, event.action, event.actor, event.detail) if p)
        canvas.lines(wrap(line, fonts.small, WIDTH - 2 * MARGIN), fonts.small, GREY)
    return canvas.finish(page_label, stamp)


def jpeg_bytes(page: Image.Image, limit: int = PAGE_LIMIT_BYTES) -> bytes:
    """The page as a JPEG under `limit` bytes: the best quality that fits, else drawn smaller."""
    image = page
    while True:
        for quality in QUALITIES:
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=quality, optimize=True, progressive=True)
            if buffer.tell() <= limit:
                return buffer.getvalue()
        image = image.resize(
            (int(image.width * 0.85), int(image.height * 0.85)), Image.Resampling.LANCZOS
        )


def jpeg_pages(
    case: TranscriptCase, *, page_label: PageLabel, stamp: str | None = None
) -> Iterator[bytes]:
    """Each page of the case as JPEG bytes, each at most 200 KB."""
    for page in draw_pages(case, page_label=page_label, stamp=stamp):
        yield jpeg_bytes(page)


def write_pdf(
    cases: list[TranscriptCase], out: io.BufferedIOBase | io.BytesIO, *, stamp: str | None = None
) -> None:
    """The transcript as an A4 PDF with the CJK font embedded (subset); `stamp` atop every page."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, SimpleDocTemplate

    styles = _pdf_styles()
    story: list[object] = []
    for number, case in enumerate(cases):
        if number:
            story.append(PageBreak())
        story += _pdf_case(case, styles)
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=cases[0].title if cases else "",
    )
    stamp_page = _pdf_stamper(stamp)
    document.build(story, onFirstPage=stamp_page, onLaterPages=stamp_page)


@dataclass(frozen=True, slots=True)
class _PdfStyles:
    title: Any
    meta: Any
    bubble_in: Any
    bubble_out: Any


def _pdf_styles() -> _PdfStyles:
    """The PDF's paragraph styles, in the CJK font (registered once per process)."""
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "KefuCJK" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("KefuCJK", str(cjk_font_path()), subfontIndex=0))
    base = {"fontName": "KefuCJK", "wordWrap": "CJK"}
    bubble_in = ParagraphStyle(
        "in",
        fontSize=10.5,
        leading=15,
        backColor=colors.HexColor("#eeeeee"),
        borderPadding=5,
        rightIndent=45 * mm,
        spaceBefore=8,
        spaceAfter=8,
        **base,
    )
    return _PdfStyles(
        title=ParagraphStyle("title", fontSize=15, leading=20, spaceAfter=6, **base),
        meta=ParagraphStyle("meta", fontSize=9, leading=12, textColor=colors.grey, **base),
        bubble_in=bubble_in,
        bubble_out=ParagraphStyle(
            "out",
            parent=bubble_in,
            backColor=colors.HexColor("#d6f0cc"),
            leftIndent=45 * mm,
            rightIndent=0,
        ),
    )


def _pdf_case(case: TranscriptCase, styles: _PdfStyles) -> list[object]:
    """One case's flowables: title, meta lines, bubbles, status history and footer."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer

    story: list[object] = [Paragraph(escape(case.title), styles.title)]
    for label, value in case.meta:
        story.append(Paragraph(escape(f"{label}: {value}"), styles.meta))
    story.append(Spacer(1, 4 * mm))
    for message in case.messages:
        story += _pdf_message(message, styles)
    story.append(Spacer(1, 4 * mm))
    story.append(Paragraph(escape(case.history_title), styles.title))
    for event in case.history:
        line = " · ".join(p for p in (event.time, event.action, event.actor, event.detail) if p)
        story.append(Paragraph(escape(line), styles.meta))
    story.append(Spacer(1, 3 * mm))
    story.append(Paragraph(escape(case.footer), styles.meta))
    return story


def _pdf_message(message: TranscriptMessage, styles: _PdfStyles) -> list[object]:
    """One bubble (header, text, file labels, seq and hash) and its images below it."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Image as PdfImage
    from reportlab.platypus import Paragraph

    style = styles.bubble_out if message.direction == "out" else styles.bubble_in
    header = f"{message.who} · {message.time}" + (f" · {message.tags}" if message.tags else "")
    body = escape(message.text).replace("\n", "<br/>")
    files = "".join(
        f"<br/>{escape(a.label)}" for a in message.attachments if not a.is_image or not a.path
    )
    proof = f'<font size="7" color="#999999">#{message.seq} {message.hash}</font>'
    story: list[object] = [
        Paragraph(
            f'<font size="8" color="#666666">{escape(header)}</font><br/>{body}{files}<br/>{proof}',
            style,
        )
    ]
    for a in message.attachments:
        if a.is_image and a.path is not None:
            thumb = _thumbnail(a.path)
            if thumb is None:
                continue
            scale = min(1.0, (70 * mm) / thumb.width)
            story.append(
                PdfImage(str(a.path), width=thumb.width * scale, height=thumb.height * scale)
            )
    return story


def _pdf_stamper(stamp: str | None) -> Callable[[Any, Any], None]:
    """The page callback drawing the broken-chain `stamp` in the top margin (nothing if None)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm

    def stamp_page(canvas: Any, _document: Any) -> None:
        if stamp:
            canvas.saveState()
            canvas.setFont("KefuCJK", 9)
            canvas.setFillColor(colors.HexColor("#c00000"))
            canvas.drawString(15 * mm, A4[1] - 9 * mm, stamp)
            canvas.restoreState()

    return stamp_page
