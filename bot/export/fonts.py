"""The CJK font Kefu draws Chinese with (charts, PDF, JPEG pages): WenQuanYi Micro Hei.

It comes from the `paperang-p2-fonts-cjk` package (a dependency in pyproject.toml); a system
install of fonts-wqy-microhei or fonts-noto-cjk is used when that package is missing.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

SYSTEM_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)


class FontMissing(RuntimeError):
    """No CJK font is installed: Chinese would render as empty boxes."""


@cache
def cjk_font_path() -> Path:
    """Path of the CJK font file (TrueType collection; face 0 is the regular face)."""
    try:
        packaged = resources.files("paperang_p2_fonts_cjk") / "fonts" / "wqy-microhei.ttc"
        path = Path(str(packaged))
        if path.is_file():
            return path
    except ModuleNotFoundError:
        pass
    for candidate in SYSTEM_FONTS:
        if candidate.is_file():
            return candidate
    raise FontMissing(
        "no CJK font found: install Kefu's dependencies (scripts/bootstrap) or "
        "`apt-get install -y fonts-wqy-microhei`"
    )
