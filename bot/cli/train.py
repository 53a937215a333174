"""`kefu train` (learned weights from the corpus) and `kefu corpus …` (agreement, test scores)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.classify import format_report, score
from bot.cli.common import CliError, settings
from bot.core.metrics import Example as Scored
from bot.core.metrics import evaluate, expected_calibration_error
from bot.core.types import Category
from bot.training.dataset import Example

if TYPE_CHECKING:
    from bot.core.classify import Classifier
    from bot.training.fit import Trained

corpus_app = typer.Typer(help="The labelled corpus: agreement, frozen test split scores.")

REPO = Path(__file__).resolve().parents[2]
CORPUS_HELP = "The corpus folder (messages.tsv, labels.tsv, written.tsv)."
MIRRORS_HELP = "Folder of the source repositories' git mirrors (owner+name/repo); env KEFU_MIRRORS."
DATA_HELP = "Folder with the shared dev.tsv and dev_en.tsv."


def _mirrors(path: Path | None) -> Path:
    chosen = path or (Path(os.environ["KEFU_MIRRORS"]) if os.environ.get("KEFU_MIRRORS") else None)
    if chosen is None or not chosen.is_dir():
        raise CliError(
            "the corpus texts are read from git mirrors of the source repositories: "
            "pass --mirrors DIR (or set KEFU_MIRRORS)"
        )
    return chosen


def _load(corpus: Path, mirrors: Path, data: Path | None) -> list[Example]:
    from bot.corpus.sources import MirrorError, Mirrors
    from bot.training.dataset import corpus_examples, shared_examples, written_examples

    try:
        examples = corpus_examples(corpus, Mirrors(mirrors))
    except MirrorError as exc:
        raise CliError(str(exc)) from None
    examples += written_examples(corpus)
    if data is not None:
        for language in ("zh", "en"):
            examples += shared_examples(data, language)
    return examples


def train_command(
    mirrors: Annotated[Path | None, typer.Option(help=MIRRORS_HELP)] = None,
    data: Annotated[Path, typer.Option(help=DATA_HELP)] = REPO.parent / "shared" / "data",
    corpus: Annotated[Path, typer.Option(help=CORPUS_HELP)] = REPO / "corpus",
    output: Annotated[
        Path | None, typer.Option(help="Phrasebook folder to write weights/ into.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed (training is deterministic).")] = 1,
    language: Annotated[list[str] | None, typer.Option(help="zh and/or en (default both).")] = None,
    shop: Annotated[
        bool,
        typer.Option(
            "--shop",
            help="Train the shop's own model from its labels into the database instead"
            " (no dev extra needed; the shipped files are never changed).",
        ),
    ] = False,
) -> None:
    """Learn keyword weights from the corpus train split and the dev files; write weights/.

    With --shop: refit the shipped weights on the shop's labels (card corrections and
    suggestions sent unedited) and make that the active model of every bot process.
    """
    if shop:
        from bot.cli.shop import train_shop

        train_shop()
        return
    try:
        import bot.training.fit  # noqa: F401  (scikit-learn: the dev extra)
    except ImportError as exc:
        raise CliError(f"training needs the dev extra (pip install -e '.[dev]'): {exc}") from None
    from bot.nlp.pipeline import build_classifier
    from bot.nlp.script import OpenCCConverter

    config_dir = output or settings().phrasebook_dir
    if not data.is_dir():
        raise CliError(f"{data}: no such folder (pass --data with dev.tsv and dev_en.tsv)")
    from bot.corpus.pool import text_key
    from bot.training.dataset import read_held_out, without_held_out

    mirror_dir = _mirrors(mirrors)
    loaded = _load(corpus, mirror_dir, data)
    held_out = read_held_out(data)
    examples = without_held_out(loaded, held_out)
    typer.echo(f"{len(loaded) - len(examples)} held-out texts left out ({data / 'heldout.sha256'})")
    rules_only = build_classifier(config_dir, learned=False)
    to_traditional = OpenCCConverter("s2twp")
    # The clusters never read a text of a test split, wherever else it appears.
    tested = {text_key(e.text.strip()) for e in loaded if e.split.startswith("test")}
    for lang in language or ["zh", "en"]:
        clusters = (
            _chinese_clusters(mirror_dir, held_out | tested, examples, rules_only, seed)
            if lang == "zh"
            else {}
        )
        _train_language(
            examples, lang, rules_only, to_traditional.convert, seed, config_dir, clusters
        )


def _chinese_clusters(
    mirror_dir: Path,
    left_out: set[str],
    examples: Sequence[Example],
    rules_only: Classifier,
    seed: int,
) -> dict[str, tuple[str, ...]]:
    """Word clusters from the training side of the sources' texts and the training examples
    (texts whose key is in `left_out` never read)."""
    from bot.core.features import feature_words
    from bot.corpus.sources import Mirrors, unlabelled_chinese
    from bot.training.clusters import train_side, word_clusters
    from bot.training.common import TrainConfig
    from bot.training.dataset import by_language

    texts = train_side(unlabelled_chinese(Mirrors(mirror_dir)), left_out)
    texts += [e.text for e in by_language(examples, "zh", split="train")]
    typer.echo(f"zh: word clusters from {len(texts)} training-side texts")
    sentences = [
        feature_words(rules_only.segmenter.cut(rules_only.normalize(text).text)) for text in texts
    ]
    return word_clusters(sentences, TrainConfig(seed=seed), log=typer.echo)


def weights_version(
    lang: str, train: Sequence[Example], rules_dir: Path, seed: int, *, fitting: str = ""
) -> str:
    """The weights' version: a digest of the training data, the hand rules (their scores are
    features), how they were fitted (`fitting`: the TrainConfig, which names every choice the
    fit makes, such as how the needs-human threshold is chosen) and the seed, never the date —
    the same inputs give the same file, byte for byte, and other inputs another version."""
    from bot.phrasebook.rules import rule_files

    digest = hashlib.sha256(
        "\n".join(f"{e.text}\t{e.category}\t{sorted(e.flags)}" for e in train).encode()
    )
    for path in rule_files(rules_dir):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    if fitting:
        digest.update(b"\0fitting\0" + fitting.encode())
    return f"{lang}-{digest.hexdigest()[:10]}-seed{seed}"


def _train_language(
    examples: list[Example],
    lang: str,
    rules_only: Classifier,
    to_traditional: Callable[[str], str],
    seed: int,
    config_dir: Path,
    clusters: dict[str, tuple[str, ...]],
) -> None:
    """Train one language on its train split (Chinese also in Traditional) and write its file."""
    from bot.core.learned import message_length
    from bot.phrasebook.weights import weights_path, write_weights
    from bot.training.common import TrainConfig
    from bot.training.dataset import augmented, by_language
    from bot.training.fit import train_language

    train = by_language(examples, lang, split="train")
    if lang == "zh":
        train += augmented(train, to_traditional)
    config = TrainConfig(seed=seed, rule_flag_threshold=rules_only.rules.flag_threshold)
    fitting = repr(config) + "".join(f"\n{w}\t{' '.join(c)}" for w, c in sorted(clusters.items()))
    fitting += f"\n{fitting_libraries()}"  # other versions fit other numbers
    version = weights_version(lang, train, config_dir / "rules", seed, fitting=fitting)
    typer.echo(f"{lang}: {len(train)} training texts")
    trained = train_language(
        train,
        lambda text: rules_only.features(rules_only.normalize(text)),
        language=lang,
        version=version,
        config=config,
        log=typer.echo,
        clusters=clusters,
        measure=lambda text: message_length(rules_only.normalize(text).text),
    )
    chosen = trained.chosen
    assert chosen is not None
    path = weights_path(config_dir, lang)
    write_weights(path, trained.weights, header=_weights_header(lang, seed, trained))
    typer.echo(
        f"{lang}: wrote {path} — cv accuracy {chosen.accuracy:.3f}, macro-F1"
        f" {chosen.macro_f1:.3f}; ECE {trained.oof_ece:.3f}; needs_human below"
        f" {_thresholds(trained)} covers {trained.oof_coverage:.0%}"
        f" at {trained.oof_confident_accuracy:.1%}"
    )


def _thresholds(trained: Trained) -> str:
    """The needs-human thresholds as one phrase: "0.98", or by length band."""
    weights = trained.weights
    bands = [f"{t:.4f} up to {n} characters" for n, t in weights.needs_human_upto]
    longer = f"{weights.needs_human_below:.4f}"
    return ", ".join([*bands, f"{longer} longer"]) if bands else longer


def fitting_libraries() -> str:
    """The versions of the numeric libraries a fit depends on, for the weights file's header."""
    from importlib.metadata import version

    return ", ".join(f"{name} {version(name)}" for name in ("scikit-learn", "numpy", "scipy"))


def _weights_header(lang: str, seed: int, trained: Trained) -> list[str]:
    """The comment lines atop a weights file: how it was made, what it scored, its top words."""
    from bot.phrasebook.weights import top_features
    from bot.training.common import TrainConfig

    chosen = trained.chosen
    assert chosen is not None
    header = [
        f"Kefu learned weights ({lang}). Written by `kefu train --seed {seed}`; do not edit:",
        "retrain, or add a phrase to rules/*.yaml (an `overrides` phrase always wins).",
        f"Trained on {trained.examples} texts; {trained.features} features kept.",
        f"Cross-validated (grouped, {TrainConfig().folds} folds): accuracy"
        f" {chosen.accuracy:.3f}, macro-F1 {chosen.macro_f1:.3f} (C={chosen.c:g},"
        f" balanced={chosen.balanced}, naive Bayes share {chosen.nb_share:g}).",
        f"Calibration: ECE {trained.oof_ece:.3f} out of fold; needs_human below"
        f" {_thresholds(trained)} ({trained.oof_coverage:.0%} confident,"
        f" {trained.oof_confident_accuracy:.1%} right).",
        f"Fitted with {fitting_libraries()} (other versions fit other numbers).",
        "",
        "Strongest words per category:",
    ]
    for label, items in top_features(trained.weights.categories).items():
        words = ", ".join(f"{name.partition(':')[2]} {w:.2f}" for name, w in items)
        header.append(f"  {label}: {words}")
    return header


@corpus_app.command("agreement")
def agreement_command(
    corpus: Annotated[Path, typer.Option(help=CORPUS_HELP)] = REPO / "corpus",
) -> None:
    """Category agreement and Cohen's kappa of the two labellers, per language."""
    from bot.corpus.labels import agreement, read_labels, read_messages

    language = {m.id: m.language for m in read_messages(corpus / "messages.tsv")}
    labels = read_labels(corpus / "labels.tsv")
    for lang in ("zh", "en"):
        subset = [item for item in labels if language[item.id] == lang]
        result = agreement(subset)
        usable = sum(1 for item in subset if item.usable)
        typer.echo(
            f"{lang}: {result.total} labelled twice, {result.rate:.1%} agree on the category,"
            f" Cohen's κ {result.kappa:.3f}; {usable} usable (agreed, not skip)"
        )


SPLITS = ("test", "test2", "train", "train-r6")
SHOW_ERRORS_HELP = (
    "Show a test split's confusion matrix and misclassified messages (never read them while"
    " changing rules or features: the split would stop being held out)."
)
HELD_OUT_ERRORS = (
    "its errors are not listed (--worst) without --show-errors, and must not guide changes"
    " to rules or features"
)


@corpus_app.command("eval")
def eval_command(
    mirrors: Annotated[Path | None, typer.Option(help=MIRRORS_HELP)] = None,
    corpus: Annotated[Path, typer.Option(help=CORPUS_HELP)] = REPO / "corpus",
    split: Annotated[
        str, typer.Option(help="test (frozen), test2 (drawn later), train or train-r6")
    ] = "test",
    language: Annotated[str, typer.Option(help="zh, zh-s2twp (converted) or en")] = "zh",
    origin: Annotated[
        str | None, typer.Option(help="corpus or written only (default both)")
    ] = None,
    worst: Annotated[int, typer.Option(help="How many misclassified to list.")] = 0,
    show_errors: Annotated[bool, typer.Option("--show-errors", help=SHOW_ERRORS_HELP)] = False,
    rules_only: Annotated[
        bool, typer.Option("--rules-only", help="Score the hand rules without learned weights.")
    ] = False,
    shop: Annotated[
        bool,
        typer.Option(
            "--shop",
            help="Score the shop's classifier (its active model and words, from the database).",
        ),
    ] = False,
) -> None:
    """Score the shipped classifier on a split of the corpus (the frozen test split by default).

    A test split is scored in aggregate (accuracy, per-category and flag F1, calibration); its
    errors are shown only with --show-errors.
    """
    if split not in SPLITS:
        raise CliError(f"--split must be one of {', '.join(SPLITS)}, not {split!r}")
    held_out = split.startswith("test")
    if held_out and worst and not show_errors:
        raise CliError(f"{split} is a held-out split: {HELD_OUT_ERRORS}")
    from bot.nlp.pipeline import build_classifier
    from bot.nlp.script import OpenCCConverter
    from bot.training.dataset import by_language

    examples = [
        e for e in _load(corpus, _mirrors(mirrors), None) if origin is None or e.origin == origin
    ]
    base = "zh" if language.startswith("zh") else "en"
    chosen = by_language(examples, base, split=split)
    convert = OpenCCConverter("s2twp").convert if language == "zh-s2twp" else None
    if shop:
        from bot.cli.shop import shop_classifier

        classifier = shop_classifier()
    else:
        classifier = build_classifier(settings().phrasebook_dir, learned=not rules_only)
    scored, needs_human = score(
        classifier,
        ((e.id, convert(e.text) if convert else e.text, e.category, e.flags) for e in chosen),
    )
    report = evaluate(scored, labels=[c.value for c in Category], worst=worst)
    errors = show_errors or not held_out
    typer.echo(format_report(report, name=f"corpus {split} ({language})", errors=errors))
    _echo_calibration(scored, needs_human)


def _echo_calibration(scored: Sequence[Scored], needs_human: Sequence[bool]) -> None:
    """The expected calibration error, and how right the part not marked needs-human is."""
    correct = [s.expected == s.predicted for s in scored]
    ece = expected_calibration_error([s.confidence for s in scored], correct)
    typer.echo(f"expected calibration error: {ece:.3f}")
    confident = [ok for ok, unsure in zip(correct, needs_human, strict=True) if not unsure]
    if scored:
        share = len(confident) / len(scored)
        right = sum(confident) / len(confident) if confident else 0.0
        typer.echo(f"confident (needs_human false): {share:.1%} of messages, {right:.1%} right")


def register(app: typer.Typer) -> None:
    """Add `train` to `app` (the `corpus` group is added by the CLI root)."""
    app.command(name="train")(train_command)
