"""The stored form of a shop model version: every language's weights in one compressed blob."""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from pathlib import Path

from bot.core.learned import LearnedWeights
from bot.phrasebook.weights import format_weights, parse_weights
from bot.phrasebook.yamlfile import PhrasebookError

MODEL_FORMAT = "kefu-shop-model-1"


class CorruptModel(ValueError):
    """A stored model version whose weights cannot be read."""


def pack_model(weights: Mapping[str, LearnedWeights]) -> bytes:
    """A version's weights (per language) as one compressed blob."""
    document = {
        "format": MODEL_FORMAT,
        "weights": {language: format_weights(w) for language, w in sorted(weights.items())},
    }
    return zlib.compress(json.dumps(document, ensure_ascii=False).encode("utf-8"), 6)


def unpack_model(blob: bytes, *, version: int, cache_dir: Path | None) -> dict[str, LearnedWeights]:
    """The weights of a stored version; CorruptModel (one line) when they cannot be used."""
    try:
        document = json.loads(zlib.decompress(blob).decode("utf-8"))
    except (zlib.error, UnicodeDecodeError, ValueError) as exc:
        raise CorruptModel(f"not a compressed model: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != MODEL_FORMAT:
        raise CorruptModel(f"not a {MODEL_FORMAT} document")
    texts = document.get("weights")
    if not isinstance(texts, dict) or not texts:
        raise CorruptModel("no weights in it")
    found: dict[str, LearnedWeights] = {}
    for language, content in texts.items():
        if language not in ("zh", "en") or not isinstance(content, str):
            raise CorruptModel(f"unexpected entry {language!r}")
        try:
            found[language] = parse_weights(
                content.encode("utf-8"), name=f"model-{version}-{language}", cache_dir=cache_dir
            )
        except PhrasebookError as exc:
            raise CorruptModel(str(exc)) from None
    return found
