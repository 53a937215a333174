"""The corpus files in `corpus/`: message ids with their split, and two labellers' labels.

`corpus/messages.tsv`: id, source_id, group, language, drawn, split (frozen before labelling).
`corpus/labels.tsv`: id, labeller_a, category_a, flags_a, labeller_b, category_b, flags_b.
`corpus/written.tsv`: rows written for training where real text is thin (our own words, so
the text is kept): id, text, category, flags, script, split.
A message is used where both labellers chose the same category (not `skip`); its flags are
those both set.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

SKIP = "skip"


@dataclass(frozen=True, slots=True)
class CorpusMessage:
    """One drawn message: where it comes from and which split it is frozen in."""

    id: str
    source_id: str
    group: str
    language: str
    drawn: str
    split: str


@dataclass(frozen=True, slots=True)
class DoubleLabel:
    """Two independent labels of one message."""

    id: str
    labeller_a: str
    category_a: str
    flags_a: frozenset[str]
    labeller_b: str
    category_b: str
    flags_b: frozenset[str]

    @property
    def agreed(self) -> bool:
        """Both chose the same category."""
        return self.category_a == self.category_b

    @property
    def usable(self) -> bool:
        """Agreed, and about a purchase."""
        return self.agreed and self.category_a != SKIP

    @property
    def flags(self) -> frozenset[str]:
        """The flags both labellers set."""
        return self.flags_a & self.flags_b


@dataclass(frozen=True, slots=True)
class WrittenRow:
    """A message written for training, labelled as written."""

    id: str
    text: str
    category: str
    flags: frozenset[str]
    script: str
    split: str


def parse_flags(raw: str | None) -> frozenset[str]:
    """`a,b` or `-` to a set of flag ids."""
    if raw is None or raw.strip() in ("", "-"):
        return frozenset()
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def format_flags(flags: Iterable[str]) -> str:
    """A set of flag ids to `a,b` (sorted) or `-`."""
    ordered = sorted(flags)
    return ",".join(ordered) if ordered else "-"


def read_tsv(path: Path) -> list[dict[str, str]]:
    """The rows of a tab-separated file with a header line (no quoting)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def read_messages(path: Path) -> list[CorpusMessage]:
    """The drawn messages with their frozen split."""
    return [
        CorpusMessage(r["id"], r["source_id"], r["group"], r["language"], r["drawn"], r["split"])
        for r in read_tsv(path)
    ]


def read_labels(path: Path) -> list[DoubleLabel]:
    """The double labels."""
    return [
        DoubleLabel(
            r["id"],
            r["labeller_a"],
            r["category_a"],
            parse_flags(r["flags_a"]),
            r["labeller_b"],
            r["category_b"],
            parse_flags(r["flags_b"]),
        )
        for r in read_tsv(path)
    ]


def read_written(path: Path) -> list[WrittenRow]:
    """The written training rows."""
    return [
        WrittenRow(
            r["id"], r["text"], r["category"], parse_flags(r["flags"]), r["script"], r["split"]
        )
        for r in read_tsv(path)
    ]


def write_labels(path: Path, labels: Sequence[DoubleLabel]) -> None:
    """Write the double labels file."""
    header = "id\tlabeller_a\tcategory_a\tflags_a\tlabeller_b\tcategory_b\tflags_b"
    lines = [header]
    for item in labels:
        lines.append(
            "\t".join(
                [
                    item.id,
                    item.labeller_a,
                    item.category_a,
                    format_flags(item.flags_a),
                    item.labeller_b,
                    item.category_b,
                    format_flags(item.flags_b),
                ]
            )
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@dataclass(frozen=True, slots=True)
class Agreement:
    """How often two labellers agreed on the category, and Cohen's kappa."""

    total: int
    agreed: int
    kappa: float

    @property
    def rate(self) -> float:
        """The share of messages both labelled alike."""
        return self.agreed / self.total if self.total else 0.0


def agreement(labels: Sequence[DoubleLabel]) -> Agreement:
    """Category agreement and Cohen's kappa over the double labels (skip is a category here)."""
    total = len(labels)
    agreed = sum(1 for item in labels if item.agreed)
    if total == 0:
        return Agreement(0, 0, 0.0)
    first = Counter(item.category_a for item in labels)
    second = Counter(item.category_b for item in labels)
    expected = sum(first[c] * second.get(c, 0) for c in first) / (total * total)
    observed = agreed / total
    kappa = (observed - expected) / (1 - expected) if expected < 1 else 1.0
    return Agreement(total, agreed, kappa)
