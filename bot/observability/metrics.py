"""Kefu's Prometheus metrics: the only importer of `prometheus_client`.

Each application owns one `Metrics` (its own `CollectorRegistry`, so tests and several bots in
one process never share counts). Instrumented code calls the small methods below; `/metrics`
serves `exposition()`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

# Card outcomes of a reply that reached the buyer -> the `source` label of replies sent.
REPLY_SOURCES = {"sent": "suggestion", "edited": "edited", "own": "own"}
FOLLOW_UP_OUTCOME = "follow_up"
# Classifying one message takes about a millisecond; a card within seconds of the message.
CLASSIFY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
CARD_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class Metrics:
    """Counters and histograms of one running bot, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self._updates = Counter(
            "kefu_updates_received",
            "Telegram updates taken for processing, by kind (message, callback_query, ...).",
            ["kind"],
            registry=registry,
        )
        self._cards = Counter("kefu_cards_posted", "Cards posted to the agents.", registry=registry)
        self._replies = Counter(
            "kefu_replies_sent",
            "Replies that reached a buyer, by source (suggestion, edited, own).",
            ["source"],
            registry=registry,
        )
        self._acks = Counter(
            "kefu_acks_sent", "Automatic acknowledgements sent to buyers.", registry=registry
        )
        self._sla_misses = Counter(
            "kefu_sla_misses", "Conversations that missed the response target.", registry=registry
        )
        self._follow_ups = Counter(
            "kefu_follow_ups_sent", "Follow-up replies that reached a buyer.", registry=registry
        )
        self._classify = Histogram(
            "kefu_classification_seconds",
            "Time to classify one incoming buyer message.",
            buckets=CLASSIFY_BUCKETS,
            registry=registry,
        )
        self._card_latency = Histogram(
            "kefu_card_latency_seconds",
            "From Kefu receiving a buyer message to its card being posted.",
            buckets=CARD_BUCKETS,
            registry=registry,
        )
        self._waits = Counter(
            "kefu_rate_limit_waits",
            "Bot API requests that waited: for Telegram's RetryAfter or Kefu's own rate limiter.",
            ["kind"],
            registry=registry,
        )
        self._waited = Counter(
            "kefu_rate_limit_wait_seconds",
            "Time spent in those waits.",
            ["kind"],
            registry=registry,
        )
        self._errors = Counter(
            "kefu_errors",
            "Errors, by where they happened (update kind, job kind, webhook) and exception class.",
            ["where", "kind"],
            registry=registry,
        )

    def update_received(self, kind: str) -> None:
        """An update of this kind is about to be processed."""
        self._updates.labels(kind=kind).inc()

    def card_posted(self, latency_seconds: float) -> None:
        """A card went out, this long after its buyer message was received."""
        self._cards.inc()
        self._card_latency.observe(max(latency_seconds, 0.0))

    def reply_sent(self, outcome: str) -> None:
        """A reply with this card outcome (sent, edited, own, follow_up) reached the buyer."""
        if outcome == FOLLOW_UP_OUTCOME:
            self._follow_ups.inc()
        elif outcome in REPLY_SOURCES:
            self._replies.labels(source=REPLY_SOURCES[outcome]).inc()

    def ack_sent(self) -> None:
        """An automatic acknowledgement reached a buyer."""
        self._acks.inc()

    def sla_missed(self, count: int = 1) -> None:
        """`count` conversations missed the response target."""
        self._sla_misses.inc(count)

    @contextmanager
    def classifying(self) -> Iterator[None]:
        """Time the classification of one message (use as `with metrics.classifying():`)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self._classify.observe(time.perf_counter() - started)

    def rate_limit_wait(self, kind: str, seconds: float) -> None:
        """A request waited `seconds` (kind: retry_after or limiter) before going out."""
        self._waits.labels(kind=kind).inc()
        self._waited.labels(kind=kind).inc(max(seconds, 0.0))

    def error(self, where: str, error: BaseException | None) -> None:
        """An error at `where`, counted by its exception class."""
        kind = type(error).__name__ if error is not None else "unknown"
        self._errors.labels(where=where, kind=kind).inc()

    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text format of every metric, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
