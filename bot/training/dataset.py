"""The labelled texts `kefu train` learns from and scores on, per language.

Sources: the corpus (texts resolved from the source mirrors by id), the written rows, and the
shared dev files (`dev.tsv`, `dev_en.tsv`). The frozen test split of the corpus and the written
rows is never trained on; `scenarios.tsv` is never trained on either (it stays a check).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.corpus.labels import (
    parse_flags,
    read_labels,
    read_messages,
    read_tsv,
    read_written,
)
from bot.corpus.pool import text_key
from bot.corpus.sources import Mirrors, resolve

CORPUS_DIR = "corpus"
TRAIN_DEV_FILES = {"zh": "dev.tsv", "en": "dev_en.tsv"}


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled text for training or scoring."""

    id: str
    text: str
    category: str
    flags: frozenset[str]
    language: str  # "zh" or "en"
    group: str  # texts of one group stay on one side of every split
    # "train"; "test" (frozen); "test2" (test-side, drawn after the freeze); "train-r6"
    # (training-side, labelled in round 6, set aside: see phrasebook/README.md)
    split: str
    origin: str  # "corpus", "written" or "dev"


def corpus_examples(corpus_dir: Path, mirrors: Mirrors) -> list[Example]:
    """Corpus messages both labellers agreed on (not skipped), texts read from the mirrors."""
    messages = {m.id: m for m in read_messages(corpus_dir / "messages.tsv")}
    examples = []
    for label in read_labels(corpus_dir / "labels.tsv"):
        if not label.usable:
            continue
        message = messages[label.id]
        text = resolve(mirrors, message.source_id)
        examples.append(
            Example(
                label.id,
                text,
                label.category_a,
                label.flags,
                message.language,
                message.group,
                message.split,
                "corpus",
            )
        )
    return examples


def written_examples(corpus_dir: Path) -> list[Example]:
    """The written rows (Traditional and Cantonese rows count as Chinese)."""
    return [
        Example(
            row.id,
            row.text,
            row.category,
            row.flags,
            "en" if row.script == "en" else "zh",
            f"written:{row.id}",
            row.split,
            "written",
        )
        for row in read_written(corpus_dir / "written.tsv")
    ]


def shared_examples(data_dir: Path, language: str) -> list[Example]:
    """The shared dev file of a language, all of it training data."""
    rows = read_tsv(data_dir / TRAIN_DEV_FILES[language])
    return [
        Example(
            row["id"],
            row["text"],
            row["category"],
            parse_flags(row.get("flags")),
            language,
            f"dev:{row['id']}",
            "train",
            "dev",
        )
        for row in rows
    ]


HELD_OUT_FILE = "heldout.sha256"


def read_held_out(data_dir: Path) -> set[str]:
    """The held-out keys the shared data folder lists (none when it has no such file)."""
    path = data_dir / HELD_OUT_FILE
    return set(path.read_text(encoding="utf-8").split()) if path.is_file() else set()


def without_held_out(examples: Sequence[Example], keys: set[str]) -> list[Example]:
    """The examples whose text is not a held-out text (nothing held out is ever fitted)."""
    return [e for e in examples if text_key(e.text.strip()) not in keys]


def by_language(
    examples: Sequence[Example], language: str, *, split: str | None = None
) -> list[Example]:
    """The examples of one language (and split, when given)."""
    return [e for e in examples if e.language == language and (split is None or e.split == split)]


COPY_SUFFIX = "~t"  # the id of an example's copy in another script


def is_copy(example: Example) -> bool:
    """True for a copy `augmented` made (it is not a text of its own)."""
    return example.id.endswith(COPY_SUFFIX)


def augmented(examples: Sequence[Example], convert: Callable[[str], str]) -> list[Example]:
    """Copies of Chinese examples in another script (e.g. OpenCC s2twp), same group and label."""
    copies = []
    for example in examples:
        text = convert(example.text)
        if text != example.text:
            copies.append(
                Example(
                    f"{example.id}{COPY_SUFFIX}",
                    text,
                    example.category,
                    example.flags,
                    example.language,
                    example.group,
                    example.split,
                    example.origin,
                )
            )
    return copies
