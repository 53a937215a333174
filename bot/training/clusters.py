"""Word clusters learned from unlabelled text (a dev extra, like the rest of training).

Words used in the same company share a cluster: positive pointwise mutual information of each
word with its neighbours (two words either side), reduced by a seeded SVD, then k-means at a
few sizes. A cluster is a feature of every word in it, so "坏掉" counts like "坏了" even where
no labelled message had it. Only training-side texts are read (`train_side`): the test split
never shapes a cluster.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import numpy as np
from scipy import sparse
from sklearn.cluster import MiniBatchKMeans
from sklearn.decomposition import TruncatedSVD

from bot.core.learned import WORD, cluster_feature
from bot.corpus.pool import split_of, text_key
from bot.corpus.sources import SourceText
from bot.training.common import TrainConfig


def train_side(texts: Iterable[SourceText], left_out: set[str]) -> list[str]:
    """The texts of training-side groups, those whose key is in `left_out` (held-out texts,
    test texts that appear again in a training-side group) left out."""
    return [
        t.text
        for t in texts
        if split_of(t.group) == "train" and text_key(t.text.strip()) not in left_out
    ]


def word_clusters(
    sentences: Sequence[Sequence[str]],
    config: TrainConfig,
    log: Callable[[str], None] = lambda _line: None,
) -> dict[str, tuple[str, ...]]:
    """Per word feature ("w:坏掉"), its cluster features, one per size in the config."""
    counts = Counter(word for sentence in sentences for word in sentence)
    vocabulary = sorted(
        (word for word, count in counts.items() if count >= config.cluster_min_count),
        key=lambda word: (-counts[word], word),
    )
    largest = max(config.cluster_sizes, default=0)
    if not largest or len(vocabulary) <= max(largest, config.cluster_dimensions):
        log(f"  clusters: {len(vocabulary)} words are too few; none made")
        return {}
    vectors = _embeddings(sentences, vocabulary, config)
    clusters: dict[str, list[str]] = {f"{WORD}:{word}": [] for word in vocabulary}
    for size in config.cluster_sizes:
        labels = (
            MiniBatchKMeans(n_clusters=size, random_state=config.seed, batch_size=4096, n_init=3)
            .fit(vectors)
            .labels_
        )
        for word, label in zip(vocabulary, labels.tolist(), strict=True):
            clusters[f"{WORD}:{word}"].append(cluster_feature(size, int(label)))
    log(f"  clusters: {len(vocabulary)} words in {', '.join(map(str, config.cluster_sizes))}")
    return {word: tuple(names) for word, names in clusters.items()}


def _embeddings(
    sentences: Sequence[Sequence[str]], vocabulary: Sequence[str], config: TrainConfig
) -> np.ndarray:
    """Unit vectors of the words: PPMI over a ± window, context counts smoothed (^0.75), SVD."""
    index = {word: i for i, word in enumerate(vocabulary)}
    rows: list[int] = []
    columns: list[int] = []
    window = config.cluster_window
    for sentence in sentences:
        ids = [index.get(word, -1) for word in sentence]
        for i, word_id in enumerate(ids):
            if word_id < 0:
                continue
            for j in range(max(0, i - window), min(len(ids), i + window + 1)):
                if j != i and ids[j] >= 0:
                    rows.append(word_id)
                    columns.append(ids[j])
    size = len(vocabulary)
    pairs = sparse.coo_matrix((np.ones(len(rows)), (rows, columns)), shape=(size, size)).tocsr()
    pairs.sum_duplicates()
    total = pairs.sum()
    word_share = np.asarray(pairs.sum(axis=1)).ravel() / total
    context = np.asarray(pairs.sum(axis=0)).ravel() ** 0.75
    context_share = context / context.sum()
    cells = pairs.tocoo()
    pmi = np.log(cells.data / total / word_share[cells.row] / context_share[cells.col])
    keep = pmi > 0
    ppmi = sparse.csr_matrix((pmi[keep], (cells.row[keep], cells.col[keep])), shape=(size, size))
    reduced = TruncatedSVD(
        n_components=config.cluster_dimensions, random_state=config.seed, n_iter=7
    ).fit_transform(ppmi)
    norms = np.maximum(np.linalg.norm(reduced, axis=1, keepdims=True), 1e-9)
    unit: np.ndarray = reduced / norms
    return unit
