"""OpenCC script conversion (the only opencc importer): Traditional Chinese to Simplified."""

from __future__ import annotations

import opencc


class OpenCCConverter:
    """Traditional → Simplified through OpenCC's 't2s' configuration."""

    def __init__(self, config: str = "t2s") -> None:
        self._converter = opencc.OpenCC(config)

    def convert(self, text: str) -> str:
        """Return `text` in Simplified script."""
        result: str = self._converter.convert(text)
        return result
