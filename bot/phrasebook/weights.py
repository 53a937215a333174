"""Reading and writing the learned weights files, `phrasebook/weights/<language>.tsv`.

The format is plain text a person can read and diff:

    # comments (the top words per category, written by `kefu train`)
    !language	zh
    !version	2026-12-06.1
    !base	zh-d01f46d4ba-seed1   (a shop's model: the shipped version it was refitted from)
    !temperature	1.234
    !needs_human_upto	12	0.83   (messages up to 12 characters: their own threshold)
    !needs_human_below	0.55   (longer messages, or all where no !needs_human_upto is given)
    !labels	not_received	shipping_delay	...
    !flag	angry	0.42	learned   (a flag model, its threshold, learned or union with rules)
    @bias	not_received=0.12	...	angry=-3.1
    w:没收到	not_received=2.31	shipping_delay=-0.41
    k:256/37	quality=0.52
    %坏掉	256/37	1024/512   (a word and its clusters: its row also carries their weights)

Each feature line names the feature, then `target=weight` pairs; a target is a category of
`!labels` or a flag of a `!flag` line. A broken file raises PhrasebookError `file:line: reason`.
"""

from __future__ import annotations

import gc
import hashlib
import marshal
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bot.core.learned import (
    BIAS,
    CLUSTER,
    FEATURE_KINDS,
    FLAG_MODES,
    WORD,
    FlagModel,
    LearnedWeights,
    LinearModel,
    WeightsError,
)
from bot.core.types import Category, Flag
from bot.phrasebook.yamlfile import PhrasebookError

WEIGHTS_DIR = "weights"
LANGUAGES = ("zh", "en")


def weights_path(phrasebook_dir: Path, language: str) -> Path:
    """Where the weights of `language` live in a phrasebook."""
    return phrasebook_dir / WEIGHTS_DIR / f"{language}.tsv"


def load_weights(
    phrasebook_dir: Path, *, cache_dir: Path | None = None
) -> dict[str, LearnedWeights]:
    """Every language's learned weights found in the phrasebook (none is fine: rules only)."""
    found: dict[str, LearnedWeights] = {}
    for language in LANGUAGES:
        path = weights_path(phrasebook_dir, language)
        if path.is_file():
            found[language] = read_weights(path, cache_dir=cache_dir)
    return found


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.meta: dict[str, str] = {}
        self.labels: tuple[str, ...] = ()
        self.flags: dict[str, tuple[float, str]] = {}
        self.rows: list[tuple[int, str, list[tuple[str, float]]]] = []
        self.seen: set[str] = set()
        self.clusters: dict[str, tuple[str, ...]] = {}
        self.upto: list[tuple[int, float]] = []

    def error(self, line: int, reason: str) -> PhrasebookError:
        return PhrasebookError(self.path, line, reason)

    def read(self, text: str) -> None:
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.rstrip("\r")
            if not line.strip() or line.startswith("#"):
                continue
            cells = line.split("\t")
            if cells[0].startswith("!"):
                self.directive(number, cells)
            elif cells[0].startswith("%"):
                self.cluster_row(number, cells)
            else:
                self.rows.append((number, cells[0], self.pairs(number, cells[1:])))

    def directive(self, number: int, cells: list[str]) -> None:
        name = cells[0][1:]
        keyed = name in ("flag", "needs_human_upto") and len(cells) > 1
        key = f"!{name} {cells[1]}" if keyed else f"!{name}"
        if key in self.seen:
            raise self.error(number, f"{key} is given twice")
        self.seen.add(key)
        if name == "labels":
            self.labels = tuple(cells[1:])
            known = {c.value for c in Category}
            for label in self.labels:
                if label not in known:
                    raise self.error(number, f"unknown category {label!r}")
            if len(set(self.labels)) != len(self.labels):
                raise self.error(number, "a category is listed twice")
        elif name == "flag":
            if len(cells) not in (3, 4) or cells[1] not in {f.value for f in Flag}:
                raise self.error(
                    number, "expected '!flag<TAB>FLAG<TAB>THRESHOLD[<TAB>MODE]' with a known flag"
                )
            mode = cells[3] if len(cells) == 4 else "learned"
            if mode not in FLAG_MODES:
                raise self.error(number, f"flag mode must be learned or union, not {mode!r}")
            self.flags[cells[1]] = (self.share(number, cells[2]), mode)
        elif name == "needs_human_upto":
            self.length_threshold(number, cells)
        elif name in ("language", "version", "base", "temperature", "needs_human_below"):
            if len(cells) != 2:
                raise self.error(number, f"expected '!{name}<TAB>VALUE'")
            if name == "temperature" and self.number(number, cells[1]) <= 0:
                raise self.error(number, "the temperature must be positive")
            if name == "needs_human_below":
                self.share(number, cells[1])
            self.meta[name] = cells[1]
        else:
            raise self.error(number, f"unknown directive !{name}")

    def length_threshold(self, number: int, cells: list[str]) -> None:
        if len(cells) != 3 or not (cells[1].isascii() and cells[1].isdigit()) or int(cells[1]) < 1:
            raise self.error(number, "expected '!needs_human_upto<TAB>LENGTH<TAB>THRESHOLD'")
        length = int(cells[1])
        if self.upto and length <= self.upto[-1][0]:
            raise self.error(number, "the !needs_human_upto lengths must rise line by line")
        self.upto.append((length, self.share(number, cells[2])))

    def cluster_row(self, number: int, cells: list[str]) -> None:
        word = f"{WORD}:{cells[0][1:]}"
        if word == f"{WORD}:" or len(cells) < 2:
            raise self.error(number, "expected '%WORD<TAB>SIZE/CLUSTER[<TAB>...]'")
        if word in self.clusters:
            raise self.error(number, f"the clusters of {word!r} are given twice")
        names = []
        for cell in cells[1:]:
            size, sep, cluster = cell.partition("/")
            if not (sep and size.isdigit() and cluster.isdigit() and int(cluster) < int(size)):
                raise self.error(
                    number, f"expected SIZE/CLUSTER (cluster below size), not {cell!r}"
                )
            names.append(f"{CLUSTER}:{int(size)}/{int(cluster)}")
        self.clusters[word] = tuple(names)

    def share(self, line: int, raw: str) -> float:
        value = self.number(line, raw)
        if not 0.0 <= value <= 1.0:
            raise self.error(line, f"{raw} is not between 0 and 1")
        return value

    def number(self, line: int, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise self.error(line, f"{raw!r} is not a number") from None
        if not math.isfinite(value):
            raise self.error(line, f"{raw!r} is not a finite number")
        return value

    def pairs(self, line: int, cells: list[str]) -> list[tuple[str, float]]:
        pairs = []
        targets: set[str] = set()
        for cell in cells:
            target, sep, raw = cell.partition("=")
            if not sep:
                raise self.error(line, f"expected TARGET=WEIGHT, not {cell!r}")
            if target in targets:
                raise self.error(line, f"{target} is given twice on this line")
            targets.add(target)
            pairs.append((target, self.number(line, raw)))
        return pairs


# Parsed weights are cached (marshal, keyed by the file's SHA-256) so a start-up does not
# parse ~100,000 weights again: 0.5 s → 0.05 s. A cache that does not read back is ignored.
CACHE_FORMAT = "kefu-weights-3"
_Parts = dict[str, Any]


def read_weights(path: Path, *, cache_dir: Path | None = None) -> LearnedWeights:
    """Parse and validate one weights file (through the cache in `cache_dir`, when given)."""
    return _load(path.read_bytes(), path, cache_name=path.stem, cache_dir=cache_dir)


def parse_weights(data: bytes, *, name: str, cache_dir: Path | None = None) -> LearnedWeights:
    """Parse and validate weights text held elsewhere than a file (a shop model version);
    errors name `name` in place of a file."""
    return _load(data, Path(name), cache_name="shop", cache_dir=cache_dir)


def _load(data: bytes, path: Path, *, cache_name: str, cache_dir: Path | None) -> LearnedWeights:
    cache: Path | None = None
    if cache_dir is not None:
        digest = hashlib.sha256(CACHE_FORMAT.encode() + data).hexdigest()[:32]
        cache = cache_dir / f"weights-{cache_name}-{digest}.marshal"
        try:
            return _build(path, _unmarshal(cache.read_bytes()))
        except (OSError, EOFError, ValueError, TypeError, KeyError, PhrasebookError):
            pass
    parts = _parse(path, data)
    weights = _build(path, parts)
    if cache is not None:
        _store(cache, parts)
    return weights


def _unmarshal(data: bytes) -> _Parts:
    """The cached parse, read with the cyclic garbage collector paused: it would walk the
    hundreds of thousands of tuples being made again and again (0.40 s → 0.27 s measured)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        parts: _Parts = marshal.loads(data)
        return parts
    finally:
        if enabled:
            gc.enable()


def _store(cache: Path, parts: _Parts) -> None:
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(marshal.dumps(parts))
        partial.replace(cache)
    except OSError:
        pass  # an unwritable cache only costs the next start-up the parse


def _parse(path: Path, data: bytes) -> _Parts:
    reader = _Reader(path)
    try:
        reader.read(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PhrasebookError(path, None, f"not UTF-8 text: {exc.reason}") from None
    if not reader.labels:
        raise PhrasebookError(path, None, "no !labels line")
    if reader.upto and "needs_human_below" not in reader.meta:
        # Longer messages would be trusted at any confidence.
        raise PhrasebookError(path, None, "!needs_human_upto lines need a !needs_human_below line")
    index = {label: i for i, label in enumerate(reader.labels)}
    bias = [0.0] * len(reader.labels)
    flag_bias = dict.fromkeys(reader.flags, 0.0)
    weights: dict[str, tuple[tuple[int, float], ...]] = {}
    flag_weights: dict[str, dict[str, float]] = {flag: {} for flag in reader.flags}
    features_seen: set[str] = set()
    for number, feature, pairs in reader.rows:
        if feature != BIAS and feature.partition(":")[0] not in FEATURE_KINDS:
            raise reader.error(number, f"unknown feature kind in {feature!r}")
        if feature in features_seen:
            raise reader.error(number, f"feature {feature!r} is listed twice")
        features_seen.add(feature)
        row: list[tuple[int, float]] = []
        for target, weight in pairs:
            if target in index:
                if feature == BIAS:
                    bias[index[target]] = weight
                else:
                    row.append((index[target], weight))
            elif target in flag_weights:
                if feature == BIAS:
                    flag_bias[target] = weight
                else:
                    flag_weights[target][feature] = weight
            else:
                raise reader.error(number, f"unknown target {target!r}")
        if row:
            weights[feature] = tuple(row)
    empty = [flag for flag in reader.flags if not flag_weights[flag]]
    if empty:
        raise PhrasebookError(path, None, f"flag model(s) without weights: {', '.join(empty)}")
    return {
        "meta": dict(reader.meta),
        "upto": tuple(reader.upto),
        "labels": reader.labels,
        "bias": tuple(bias),
        "weights": weights,
        "clusters": reader.clusters,
        "flags": [
            (flag, threshold, mode, flag_bias[flag], flag_weights[flag])
            for flag, (threshold, mode) in reader.flags.items()
        ],
    }


def _build(path: Path, parts: _Parts) -> LearnedWeights:
    meta = parts["meta"]
    try:
        temperature = float(meta.get("temperature", "1"))
        needs_human = float(meta.get("needs_human_below", "0"))
        categories = LinearModel(
            tuple(parts["labels"]), tuple(parts["bias"]), parts["weights"], temperature
        )
        flags = tuple(
            FlagModel(Flag(flag), bias, weights, threshold, mode)
            for flag, threshold, mode, bias, weights in parts["flags"]
        )
        return LearnedWeights(
            language=meta.get("language", path.stem),
            categories=categories,
            flags=flags,
            needs_human_below=needs_human,
            version=meta.get("version", ""),
            clusters=parts["clusters"],
            base_version=meta.get("base", ""),
            needs_human_upto=tuple((int(n), float(t)) for n, t in parts["upto"]),
        )
    except (ValueError, WeightsError) as exc:
        raise PhrasebookError(path, None, str(exc)) from None


def write_weights(
    path: Path,
    weights: LearnedWeights,
    *,
    header: Iterable[str] = (),
    precision: int = 4,
) -> None:
    """Write `weights` in the format above (features sorted, zero weights left out)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_weights(weights, header=header, precision=precision), encoding="utf-8")


def format_weights(
    weights: LearnedWeights, *, header: Iterable[str] = (), precision: int = 4
) -> str:
    """`weights` as the text of a weights file."""
    model = weights.categories
    lines = [f"# {line}" if line else "#" for line in header]
    lines += [
        f"!language\t{weights.language}",
        f"!version\t{weights.version}",
        *([f"!base\t{weights.base_version}"] if weights.base_version else []),
        f"!temperature\t{model.temperature:.{precision}f}",
        *(
            f"!needs_human_upto\t{length}\t{threshold:.{precision}f}"
            for length, threshold in weights.needs_human_upto
        ),
        f"!needs_human_below\t{weights.needs_human_below:.{precision}f}",
        "!labels\t" + "\t".join(model.labels),
    ]
    lines += [
        f"!flag\t{flag.flag.value}\t{flag.threshold:.{precision}f}\t{flag.mode}"
        for flag in weights.flags
    ]
    rows: dict[str, list[str]] = {}

    def add(feature: str, target: str, weight: float) -> None:
        text = f"{weight:.{precision}f}"
        if float(text) != 0.0:
            rows.setdefault(feature, []).append(f"{target}={text}")

    for i, label in enumerate(model.labels):
        add(BIAS, label, model.bias[i])
    for flag in weights.flags:
        add(BIAS, flag.flag.value, flag.bias)
    for feature in sorted(set(model.weights) | {f for m in weights.flags for f in m.weights}):
        for i, weight in model.weights.get(feature, ()):
            add(feature, model.labels[i], weight)
        for flag in weights.flags:
            if feature in flag.weights:
                add(feature, flag.flag.value, flag.weights[feature])
    order = [BIAS, *sorted(name for name in rows if name != BIAS)]
    lines += [name + "\t" + "\t".join(rows[name]) for name in order if name in rows]
    lines += [
        "%" + word.partition(":")[2] + "\t" + "\t".join(c.partition(":")[2] for c in clusters)
        for word, clusters in sorted(weights.clusters.items())
        if clusters
    ]
    return "\n".join(lines) + "\n"


def top_features(model: LinearModel, count: int = 12) -> Mapping[str, list[tuple[str, float]]]:
    """The strongest word features of each category (a word and the same character pair once)."""
    per_label: dict[str, dict[str, tuple[str, float]]] = {label: {} for label in model.labels}
    for feature, row in model.weights.items():
        if not feature.startswith(("w:", "c:", "b:")):
            continue
        shown = feature.partition(":")[2]
        for index, weight in row:
            best = per_label[model.labels[index]]
            if weight > 0 and (shown not in best or weight > best[shown][1]):
                best[shown] = (feature, weight)
    return {
        label: sorted(items.values(), key=lambda item: (-item[1], item[0]))[:count]
        for label, items in per_label.items()
    }
