"""Measure: how often the reply check flags polite agent replies as blame or refusal.

Corpora: every suggestion the shipped phrasebook composes (all categories, languages, 3 seeds),
every reply part on its own, and, when the source mirrors are present, the agents' turns of the
JDDC chat sample (JD.com customer service, Chinese) and the companies' answers in a Twitter
customer-support sample (English). Prints, per corpus, how many replies each rule flags;
`--show` prints the flagged replies.

    .venv/bin/python benchmarks/reply_check.py [--mirrors /work/.mirror] [--show]
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.core.checks import CheckRules, check_reply  # noqa: E402
from bot.core.types import Category, Classification, Language  # noqa: E402
from bot.corpus.sources import JDDC_CHAT, MirrorError, Mirrors  # noqa: E402
from bot.phrasebook.loader import Phrasebook, load_phrasebook  # noqa: E402

RULES = ("blames_buyer", "flat_refusal")
TWEETS = ("naman-tiwari/Customer-Support-on-Twitter", "sample.csv")


def composed(phrasebook: Phrasebook) -> Iterator[str]:
    """Every suggestion the composer makes, as the shipped-replies test does."""
    for language in Language:
        for category in Category:
            verdict = Classification(category=category, confidence=0.9, language=language)
            for seed in range(3):
                for suggestion in phrasebook.composer.compose(verdict, seed=seed).suggestions:
                    yield suggestion.text


def parts(phrasebook: Phrasebook) -> Iterator[str]:
    """Every reply part variant, unfilled."""
    for book in phrasebook.replies.values():
        for by_principle in book.parts.values():
            for variants in by_principle.values():
                yield from variants


def jddc_agent_turns(mirrors: Mirrors) -> Iterator[str]:
    """The customer-service agents' turns (waiter_send == 1) of the JDDC chat sample."""
    commit = mirrors.head(JDDC_CHAT)
    for line in mirrors.lines(JDDC_CHAT, commit, "data/chat_0.1per.txt"):
        cells = line.split("\t")
        if len(cells) >= 7 and cells[2] == "1":
            yield "\t".join(cells[6:]).strip()


def support_tweets(mirrors: Mirrors) -> Iterator[str]:
    """Companies' answers (inbound == False) in a Twitter customer-support sample."""
    repo, path = TWEETS
    data = mirrors.read(repo, mirrors.head(repo), path).decode("utf-8", errors="replace")
    for row in csv.DictReader(io.StringIO(data)):
        if row.get("inbound") == "False":
            yield (row.get("text") or "").strip()


def measure(name: str, texts: list[str], rules: CheckRules, show: bool) -> None:
    """Print how many of `texts` each blame/refusal rule flags."""
    flagged: dict[str, list[tuple[str, str]]] = {rule: [] for rule in RULES}
    for text in texts:
        for finding in check_reply(text, rules=rules):
            if finding.rule in flagged:
                flagged[finding.rule].append((finding.detail, text))
    counts = ", ".join(
        f"{rule} {len(hits)} ({100 * len(hits) / max(len(texts), 1):.2f} %)"
        for rule, hits in flagged.items()
    )
    print(f"{name}: {len(texts)} replies; {counts}")
    if show:
        for rule, hits in flagged.items():
            for detail, text in hits:
                print(f"  [{rule}] {detail!r}: {text[:160]}")


def main() -> None:
    """Run the measure on every corpus that is available."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirrors", type=Path, default=None)
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args()
    phrasebook = load_phrasebook(REPO / "phrasebook")
    rules = phrasebook.check_rules
    measure("shipped suggestions", list(composed(phrasebook)), rules, args.show)
    measure("shipped reply parts", list(parts(phrasebook)), rules, args.show)
    if args.mirrors is None:
        return
    mirrors = Mirrors(args.mirrors)
    for name, reader in (
        ("JDDC agent turns", jddc_agent_turns),
        ("support tweets", support_tweets),
    ):
        try:
            texts = [text for text in reader(mirrors) if text]
        except MirrorError as exc:
            print(f"{name}: skipped ({exc})")
            continue
        measure(name, texts, rules, args.show)


if __name__ == "__main__":
    main()
