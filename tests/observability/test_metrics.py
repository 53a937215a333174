"""Issue 16 part 3: the metrics each bot keeps in a registry of its own."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from bot.observability.metrics import Metrics


def _values(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def test_reply_outcomes_count_by_source_and_follow_ups_apart() -> None:
    metrics = Metrics()
    for outcome in ("sent", "sent", "edited", "own", "follow_up", "skipped"):
        metrics.reply_sent(outcome)

    values = _values(metrics)
    assert values[("kefu_replies_sent_total", (("source", "suggestion"),))] == 2
    assert values[("kefu_replies_sent_total", (("source", "edited"),))] == 1
    assert values[("kefu_replies_sent_total", (("source", "own"),))] == 1
    assert values[("kefu_follow_ups_sent_total", ())] == 1
    assert [k for k in values if k[0] == "kefu_replies_sent_total"] == [
        ("kefu_replies_sent_total", (("source", "suggestion"),)),
        ("kefu_replies_sent_total", (("source", "edited"),)),
        ("kefu_replies_sent_total", (("source", "own"),)),
    ]


def test_two_bots_keep_separate_counts() -> None:
    first, second = Metrics(), Metrics()
    first.update_received("message")
    first.card_posted(0.4)
    first.sla_missed(3)
    with first.classifying():
        pass
    first.rate_limit_wait("limiter", 0.5)
    first.error("job:ack", ValueError("x"))

    one, other = _values(first), _values(second)
    assert one[("kefu_updates_received_total", (("kind", "message"),))] == 1
    assert one[("kefu_cards_posted_total", ())] == 1
    assert one[("kefu_card_latency_seconds_bucket", (("le", "0.5"),))] == 1
    assert one[("kefu_card_latency_seconds_bucket", (("le", "0.25"),))] == 0
    assert one[("kefu_sla_misses_total", ())] == 3
    assert one[("kefu_classification_seconds_count", ())] == 1
    assert one[("kefu_rate_limit_wait_seconds_total", (("kind", "limiter"),))] == 0.5
    assert one[("kefu_errors_total", (("kind", "ValueError"), ("where", "job:ack")))] == 1
    assert other[("kefu_cards_posted_total", ())] == 0
    assert other[("kefu_sla_misses_total", ())] == 0
    assert ("kefu_updates_received_total", (("kind", "message"),)) not in other
