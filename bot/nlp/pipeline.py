"""The composition of the classifier from the phrasebook: rules, user dictionary, tokenizer."""

from __future__ import annotations

from pathlib import Path

from bot.core.classify import Classifier
from bot.nlp.script import OpenCCConverter
from bot.nlp.segment import JiebaSegmenter
from bot.phrasebook.rules import load_rules, rule_words
from bot.phrasebook.weights import load_weights

RULES_DIR = "rules"
USERDICT = "userdict.txt"


def build_classifier(
    phrasebook_dir: Path, *, cache_dir: Path | None = None, learned: bool = True
) -> Classifier:
    """Load the keyword rules, learned weights and user dictionary; build the tokenizer once.

    `learned=False` gives the hand rules alone (what `kefu train` computes features with).
    """
    rules = load_rules(phrasebook_dir / RULES_DIR)
    userdict = phrasebook_dir / USERDICT
    segmenter = JiebaSegmenter(
        userdict=userdict if userdict.is_file() else None,
        words=rule_words(rules),
        cache_dir=cache_dir,
    )
    weights = load_weights(phrasebook_dir, cache_dir=segmenter.cache_dir) if learned else {}
    return Classifier(rules, segmenter, OpenCCConverter(), weights)
