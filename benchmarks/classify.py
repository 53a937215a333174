"""Benchmark: normalise + classify + compose per message, beside bare jieba segmentation.

Prints messages per second, p50/p99 latency, the ratio to a plain jieba tokenizer with the
same user dictionary on the same texts (in the same process, pass by pass in turn), the cold
start of a fresh process (import + dictionary + rules) and peak memory.

    .venv/bin/python benchmarks/classify.py [../shared/data/dev.tsv] [--repeat 20]
"""

from __future__ import annotations

import argparse
import csv
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DEFAULT_DATA = REPO.parent / "shared" / "data" / "dev.tsv"
PHRASEBOOK = REPO / "phrasebook"

COLD_START = """
import time
t0 = time.perf_counter()
from pathlib import Path
from bot.nlp.pipeline import build_classifier
classifier = build_classifier(Path({phrasebook!r}))
classifier.classify("还没收到货")
print(time.perf_counter() - t0)
"""


def read_texts(path: Path) -> list[str]:
    """The `text` column of a TSV."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [row["text"] for row in reader]


def timed(texts: list[str], work: Callable[[str], object]) -> list[float]:
    """Per-message latencies in seconds."""
    latencies = []
    clock = time.perf_counter
    for text in texts:
        start = clock()
        work(text)
        latencies.append(clock() - start)
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of `values` fall."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def cold_start(runs: int) -> list[float]:
    """Seconds for a fresh interpreter to import, load dictionary and rules, classify once."""
    code = COLD_START.format(phrasebook=str(PHRASEBOOK))
    results = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
        )
        results.append(float(out.stdout.strip().splitlines()[-1]))
    return results


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=20, help="passes over the data")
    parser.add_argument("--cold-runs", type=int, default=3)
    args = parser.parse_args()

    import jieba

    from bot.nlp.pipeline import build_classifier
    from bot.nlp.segment import default_cache_dir

    if not args.data.is_file():
        sys.exit(f"{args.data}: no such file (pass the labelled TSV, e.g. ../shared/data/dev.tsv)")
    texts = read_texts(args.data) * args.repeat
    if not texts:
        sys.exit(f"{args.data}: no messages to time")
    tracemalloc.start()
    classifier = build_classifier(PHRASEBOOK)
    try:
        from bot.phrasebook.loader import load_phrasebook

        composer = load_phrasebook(PHRASEBOOK).composer

        def full(text: str) -> object:
            return composer.compose(classifier.classify(text))

        label = "normalise + classify + compose"
    except Exception as exc:  # the composer's phrasebook may be unfinished
        print(f"(composer unavailable: {exc}; timing normalise + classify only)")

        def full(text: str) -> object:
            return classifier.classify(text)

        label = "normalise + classify"
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    from bot.phrasebook.weights import load_weights

    tracemalloc.start()
    weights = load_weights(PHRASEBOOK)
    weights_current, weights_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    weights_sizes = ", ".join(
        f"{key} {len(w.categories.weights):,} features" for key, w in sorted(weights.items())
    )

    bare = jieba.Tokenizer()
    bare.tmp_dir = str(default_cache_dir())
    bare.cache_file = "jieba.cache"
    bare.load_userdict(str(PHRASEBOOK / "userdict.txt"))

    def segment(text: str) -> object:
        return bare.lcut(text)

    for warm in texts[:200]:  # warm both paths (jieba builds its route caches lazily)
        full(warm)
        segment(warm)

    # Pass by pass, alternating: the machine's speed drifts (other load, CPU clocks) over a run,
    # and timing one side after the other would put the drift into the ratio.
    ours: list[float] = []
    base: list[float] = []
    one_pass = len(texts) // args.repeat
    for start in range(0, len(texts), one_pass):
        ours += timed(texts[start : start + one_pass], full)
        base += timed(texts[start : start + one_pass], segment)
    ours_total, base_total = sum(ours), sum(base)
    colds = cold_start(args.cold_runs)
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    print(f"data: {args.data} x{args.repeat} = {len(texts)} messages")
    print(
        f"{label}: {len(texts) / ours_total:,.0f} msg/s, "
        f"p50 {percentile(ours, 0.5) * 1e6:.0f} µs, p99 {percentile(ours, 0.99) * 1e6:.0f} µs"
    )
    print(
        f"bare jieba.lcut (same user dict): {len(texts) / base_total:,.0f} msg/s, "
        f"p50 {percentile(base, 0.5) * 1e6:.0f} µs, p99 {percentile(base, 0.99) * 1e6:.0f} µs"
    )
    print(f"ratio (ours / bare jieba): {ours_total / base_total:.2f}x")
    print(
        f"cold start (fresh process: import + dictionary + rules + first classify): "
        f"median {statistics.median(colds):.3f} s over {len(colds)} runs"
    )
    print(
        f"peak memory: {peak / 2**20:.1f} MiB traced while building; max RSS {rss_kb / 1024:.0f} MiB"
    )
    print(
        f"learned weights ({weights_sizes or 'none'}): {weights_current / 2**20:.1f} MiB held,"
        f" {weights_peak / 2**20:.1f} MiB peak while loading"
    )


if __name__ == "__main__":
    main()
