"""Intake step 1, classify: each buyer message is classified once, before its rows are written.

The verdict is stored with the message (its labels) and travels with the recorded rows to the
card step, which never classifies again.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.core.types import Classification
from bot.observability.metrics import Metrics
from bot.understanding import Understanding

Classify = Callable[[str], Classification]  # a buyer message's text -> its verdict


def message_classifier(understanding: Understanding, metrics: Metrics | None = None) -> Classify:
    """Classify a buyer message with the classifier in use at that moment (it is replaced whole
    when the shop's words or model change), timed in `metrics`."""
    timing = metrics or Metrics()

    def classify(text: str) -> Classification:
        with timing.classifying():
            return understanding.classifier.classify(text)

    return classify
