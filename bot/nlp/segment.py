"""jieba segmentation (the only jieba importer): a private Tokenizer with Kefu's user dictionary."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import jieba

# jieba logs "Building prefix dict..." at DEBUG on its own handler; keep it quiet by default.
jieba.setLogLevel(logging.WARNING)

CACHE_FILE_NAME = "jieba.cache"


def default_cache_dir() -> Path:
    """Kefu's per-user cache directory: $XDG_CACHE_HOME/kefu, else ~/.cache/kefu."""
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "kefu"


def _writable_cache_dir(preferred: Path) -> Path:
    try:
        preferred.mkdir(parents=True, exist_ok=True)
        if os.access(preferred, os.W_OK):
            return preferred
    except OSError:
        pass
    fallback = Path(tempfile.gettempdir()) / f"kefu-{os.getuid()}"
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


class JiebaSegmenter:
    """Word segmentation with a private jieba.Tokenizer (never jieba's global default one)."""

    def __init__(
        self,
        *,
        userdict: Path | None = None,
        words: Iterable[str] = (),
        cache_dir: Path | None = None,
        hmm: bool = False,
    ) -> None:
        self.cache_dir = _writable_cache_dir(cache_dir or default_cache_dir())
        self._tokenizer = jieba.Tokenizer()
        self._tokenizer.tmp_dir = str(self.cache_dir)
        self._tokenizer.cache_file = CACHE_FILE_NAME
        self._tokenizer.initialize()
        self._hmm = hmm
        if userdict is not None:
            self._tokenizer.load_userdict(str(userdict))
        self.add_words(words)

    @property
    def cache_file(self) -> Path:
        """Where jieba's prefix-dictionary cache lives."""
        return self.cache_dir / CACHE_FILE_NAME

    def add_words(self, words: Iterable[str]) -> None:
        """Teach the tokenizer extra whole words (e.g. the classifier's multi-character keywords)."""
        for word in words:
            if len(word) >= 2 and not word.isascii():
                self._tokenizer.add_word(word)

    def cut(self, text: str) -> list[str]:
        """Split `text` into tokens; concatenated, they give back `text` exactly."""
        tokens: list[str] = self._tokenizer.lcut(text, HMM=self._hmm)
        return tokens
