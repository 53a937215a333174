"""Reads buyer messages out of the public source repositories, by source id.

The corpus in `corpus/` holds only ids like
`owner/repo@commit:path:line[:field]`; the texts stay in the sources (they carry no licence).
A source is read from a bare git mirror (`git show commit:path`) under a mirrors folder laid
out as `owner+repo/repo` (the layout the workplace's fetch tool makes).
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

JDDC_CHAT = "EndlessLethe/jddc2019-3th-retrieve-model"
JDDC_SEQ = "SimonJYang/JDDC-Baseline-Seq2Seq"
REVIEWS = "SophonPlus/ChineseNlpCorpus"
REVIEWS_PATH = "datasets/online_shopping_10_cats/online_shopping_10_cats.zip"
REVIEWS_MEMBER = "online_shopping_10_cats.csv"
TWEET_SOURCES = (
    ("S0l0m4n/aie3-twitter-customer-support", "data/test_set.csv"),
    ("divya-gh/conversational-ai-analyst", "data/twcs_clean.csv"),
    ("monalisapatra26/data_visualization", "twcs.csv"),
    ("naman-tiwari/Customer-Support-on-Twitter", "sample.csv"),
)
# Spreadsheets of inbound tweets to @AmazonHelp (samples of the same Twitter corpus): every row
# is a customer writing to the retailer, whether or not the text names the handle.
SHEET_TWEETS = (("kechtel/ericsson", "data/labeled/twcs-AmazonHelp-200-inbound.xlsx"),)
# Amazon product reviews (a condensed sample of the McAuley/Zhang Amazon review corpus) with a
# sentiment label: the negative and neutral ones are buyers writing about what they bought.
EN_REVIEWS = "PacktPublishing/Democratizing-Artificial-Intelligence-with-UiPath"
EN_REVIEWS_PATH = "Chapter06/AI_Center_Test/Amazon_Reviews_Dataset/test/test.csv"
EN_REVIEW_TARGETS = ("Very Negative", "Negative", "Neutral")
# Retailers and carriers: tweets to them are buyers talking about a purchase.
RETAIL_HANDLES = (
    "@amazonhelp", "@tesco", "@sainsburys", "@marksandspencer", "@morrisons", "@aldiuk",
    "@upshelp", "@argoshelpers", "@askebay", "@asktarget", "@walmart", "@bestbuysupport",
    "@asos_heretohelp", "@currys",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SourceText:
    """One buyer message from a source, with the group it must stay with in a split."""

    source_id: str
    text: str
    group: str
    language: str  # "zh" or "en"


class MirrorError(RuntimeError):
    """A source repository is missing from the mirrors folder or cannot be read."""


class Mirrors:
    """Bare git mirrors of the source repositories under one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._heads: dict[str, str] = {}
        self._blobs: dict[tuple[str, str, str], bytes] = {}
        self._tables: dict[tuple[str, str, str], dict[int, tuple[int, list[str]]]] = {}
        self._text_lines: dict[tuple[str, str, str], list[str]] = {}

    def git_dir(self, repo: str) -> Path:
        """The git directory of `repo` ("owner/name")."""
        base = self.root / repo.replace("/", "+") / "repo"
        return base / ".git" if (base / ".git").is_dir() else base

    def head(self, repo: str) -> str:
        """The commit the mirror of `repo` is at."""
        if repo not in self._heads:
            self._heads[repo] = self._git(repo, "rev-parse", "HEAD").decode().strip()
        return self._heads[repo]

    def read(self, repo: str, commit: str, path: str) -> bytes:
        """The bytes of `path` at `commit` (a `zip!member` path reads the zip's member)."""
        key = (repo, commit, path)
        if key not in self._blobs:
            outer, _, member = path.partition("!")
            data = self._git(repo, "show", f"{commit}:{outer}")
            if member:
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    data = archive.read(member)
            self._blobs[key] = data
        return self._blobs[key]

    def csv_rows(self, repo: str, commit: str, path: str) -> dict[int, tuple[int, list[str]]]:
        """A CSV file's rows by the line each starts on (the header is line 1), each with the
        line it ends on; parsed once."""
        key = (repo, commit, path)
        if key not in self._tables:
            self._tables[key] = _rows_by_line(self.read(repo, commit, path))
        return self._tables[key]

    def lines(self, repo: str, commit: str, path: str) -> list[str]:
        """A text file's lines, split once."""
        key = (repo, commit, path)
        if key not in self._text_lines:
            self._text_lines[key] = _lines(self.read(repo, commit, path))
        return self._text_lines[key]

    def _git(self, repo: str, *args: str) -> bytes:
        git_dir = self.git_dir(repo)
        if not git_dir.exists():
            raise MirrorError(f"no mirror of {repo} at {git_dir}")
        done = subprocess.run(
            ["git", "--git-dir", str(git_dir), *args], capture_output=True, check=False
        )
        if done.returncode != 0:
            raise MirrorError(f"{repo}: git {' '.join(args)}: {done.stderr.decode().strip()}")
        return done.stdout


def _lines(data: bytes) -> list[str]:
    return data.decode("utf-8", errors="replace").splitlines()


def jddc_chat_turns(mirrors: Mirrors) -> Iterator[SourceText]:
    """Buyer turns (waiter_send == 0) of the JDDC chat sample, grouped by session."""
    commit = mirrors.head(JDDC_CHAT)
    path = "data/chat_0.1per.txt"
    for number, line in enumerate(mirrors.lines(JDDC_CHAT, commit, path), start=1):
        cells = line.split("\t")
        if len(cells) < 7 or cells[2] != "0":
            continue
        text = "\t".join(cells[6:]).strip()
        yield SourceText(f"{JDDC_CHAT}@{commit}:{path}:{number}", text, f"jddc:{cells[0]}", "zh")


def jddc_seq_turns(mirrors: Mirrors) -> Iterator[SourceText]:
    """The first and last turn of each JDDC seq2seq context line (one session per line)."""
    commit = mirrors.head(JDDC_SEQ)
    for path in ("data/train.enc", "data/test.enc"):
        for number, line in enumerate(mirrors.lines(JDDC_SEQ, commit, path), start=1):
            base = f"{JDDC_SEQ}@{commit}:{path}:{number}"
            for field, text in seq_fields(line).items():
                yield SourceText(f"{base}:{field}", text, f"seq:{path}:{number}", "zh")


def seq_fields(line: str) -> dict[str, str]:
    """The `first` and `last` comma-separated turns of a seq2seq context line."""
    turns = [turn.strip() for turn in line.split(",") if turn.strip()]
    if not turns:
        return {}
    return {"first": turns[0], "last": turns[-1]}


def negative_reviews(mirrors: Mirrors) -> Iterator[SourceText]:
    """Negative product reviews, grouped by product category and block of 200 rows."""
    commit = mirrors.head(REVIEWS)
    path = f"{REVIEWS_PATH}!{REVIEWS_MEMBER}"
    for number, (_end, row) in mirrors.csv_rows(REVIEWS, commit, path).items():
        if number == 1 or len(row) < 3 or row[1] != "0":
            continue
        group = f"reviews:{row[0]}:{number // 200}"
        yield SourceText(f"{REVIEWS}@{commit}:{path}:{number}", row[2].strip(), group, "zh")


def retail_tweets(mirrors: Mirrors) -> Iterator[SourceText]:
    """Customers' tweets to retailers and carriers, grouped by the tweet's author.

    A file without an author column groups each tweet by the line its row ends on (the frozen
    split was made that way).
    """
    for repo, path in TWEET_SOURCES:
        commit = mirrors.head(repo)
        rows = mirrors.csv_rows(repo, commit, path)
        header = rows[1][1]
        for line, (end, row) in rows.items():
            if line == 1:
                continue
            cells = dict(zip(header, row, strict=False))
            body = (cells.get("text") or "").strip()
            if cells.get("inbound", "True") != "True" or not _to_retailer(body):
                continue
            author = cells.get("author_id") or f"{repo}:{end}"
            yield SourceText(f"{repo}@{commit}:{path}:{line}:text", body, f"tw:{author}", "en")


def sheet_tweets(mirrors: Mirrors) -> Iterator[SourceText]:
    """Inbound customer tweets from spreadsheet samples, grouped by the tweet's author."""
    for repo, path in SHEET_TWEETS:
        commit = mirrors.head(repo)
        for number, cells in sheet_rows(mirrors.read(repo, commit, path)).items():
            body = cells.get("text", "").strip()
            if number == 1 or cells.get("inbound") not in {"1", "True", "TRUE"} or not body:
                continue
            group = f"tw:{cells.get('author_id') or f'{repo}:{number}'}"
            yield SourceText(f"{repo}@{commit}:{path}:{number}:text", body, group, "en")


_SHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def sheet_rows(data: bytes) -> dict[int, dict[str, str]]:
    """The first sheet of an .xlsx as {row number: {header: cell text}} (row 1 is the header)."""
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        shared = [
            "".join(t.text or "" for t in item.iter(f"{_SHEET}t"))
            for item in ElementTree.fromstring(book.read("xl/sharedStrings.xml"))
        ]
        sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))
    rows: dict[int, dict[str, str]] = {}
    for row in sheet.iter(f"{_SHEET}row"):
        cells: dict[str, str] = {}
        for cell in row.iter(f"{_SHEET}c"):
            value = cell.find(f"{_SHEET}v")
            text = value.text or "" if value is not None else ""
            if cell.get("t") == "s":
                text = shared[int(text)]
            elif cell.get("t") == "inlineStr":
                text = "".join(t.text or "" for t in cell.iter(f"{_SHEET}t"))
            cells[re.sub(r"\d+$", "", cell.get("r", ""))] = text
        rows[int(row.get("r", len(rows) + 1))] = cells
    header = rows.get(1, {})
    return {n: {header.get(col, col): v for col, v in cells.items()} for n, cells in rows.items()}


def english_reviews(mirrors: Mirrors) -> Iterator[SourceText]:
    """Negative and neutral Amazon product reviews, each review its own group."""
    commit = mirrors.head(EN_REVIEWS)
    rows = mirrors.csv_rows(EN_REVIEWS, commit, EN_REVIEWS_PATH)
    for line, (_end, row) in rows.items():
        if line == 1 or len(row) < 2 or row[0] not in EN_REVIEW_TARGETS:
            continue
        source_id = f"{EN_REVIEWS}@{commit}:{EN_REVIEWS_PATH}:{line}:input"
        yield SourceText(source_id, row[1].strip(), f"amazon:{line}", "en")


def _to_retailer(text: str) -> bool:
    lowered = text.casefold()
    return any(handle in lowered for handle in RETAIL_HANDLES)


def all_sources(mirrors: Mirrors) -> Iterator[SourceText]:
    """Every candidate buyer message from every source."""
    yield from jddc_chat_turns(mirrors)
    yield from jddc_seq_turns(mirrors)
    yield from negative_reviews(mirrors)
    yield from retail_tweets(mirrors)
    yield from english_reviews(mirrors)
    yield from sheet_tweets(mirrors)


def unlabelled_chinese(mirrors: Mirrors) -> Iterator[SourceText]:
    """Every Chinese text of the sources, buyer's or not (both sides of the chats, every
    review), in the groups the split uses: what word clusters are learned from, no label needed."""
    commit = mirrors.head(JDDC_CHAT)
    path = "data/chat_0.1per.txt"
    for number, line in enumerate(mirrors.lines(JDDC_CHAT, commit, path), start=1):
        cells = line.split("\t")
        if len(cells) >= 7:
            text = "\t".join(cells[6:]).strip()
            yield SourceText(
                f"{JDDC_CHAT}@{commit}:{path}:{number}", text, f"jddc:{cells[0]}", "zh"
            )
    commit = mirrors.head(JDDC_SEQ)
    for path in ("data/train.enc", "data/test.enc"):
        replies = mirrors.lines(JDDC_SEQ, commit, path.replace(".enc", ".dec"))
        for number, line in enumerate(mirrors.lines(JDDC_SEQ, commit, path), start=1):
            base, group = f"{JDDC_SEQ}@{commit}:{path}:{number}", f"seq:{path}:{number}"
            turns = [turn.strip() for turn in line.split(",")]
            if number <= len(replies):
                turns.append(replies[number - 1].strip())
            for index, turn in enumerate(turns):
                if turn:
                    yield SourceText(f"{base}:{index}", turn, group, "zh")
    commit = mirrors.head(REVIEWS)
    path = f"{REVIEWS_PATH}!{REVIEWS_MEMBER}"
    for number, (_end, row) in mirrors.csv_rows(REVIEWS, commit, path).items():
        if number > 1 and len(row) >= 3 and row[2].strip():
            group = f"reviews:{row[0]}:{number // 200}"
            yield SourceText(f"{REVIEWS}@{commit}:{path}:{number}", row[2].strip(), group, "zh")


def resolve(mirrors: Mirrors, source_id: str) -> str:
    """The text a source id names."""
    repo, _, rest = source_id.partition("@")
    commit, _, rest = rest.partition(":")
    if repo in {name for name, _ in SHEET_TWEETS}:
        path, number, field = rest.rsplit(":", 2)
        return sheet_rows(mirrors.read(repo, commit, path))[int(number)][field].strip()
    if repo == EN_REVIEWS:
        path, number, _field = rest.rsplit(":", 2)
        return _csv_cell(mirrors, repo, commit, path, int(number), "input")
    if repo in {name for name, _ in TWEET_SOURCES}:
        path, number, _field = rest.rsplit(":", 2)
        return _csv_cell(mirrors, repo, commit, path, int(number), "text")
    if repo == JDDC_SEQ:
        path, number, field = rest.rsplit(":", 2)
        return seq_fields(mirrors.lines(repo, commit, path)[int(number) - 1])[field]
    path, number = rest.rsplit(":", 1)
    if repo == REVIEWS:
        return _csv_cell(mirrors, repo, commit, path, int(number), 2)
    line = mirrors.lines(repo, commit, path)[int(number) - 1]
    cells = line.split("\t")
    return "\t".join(cells[6:]).strip() if len(cells) >= 7 else line.strip()


def _rows_by_line(data: bytes) -> dict[int, tuple[int, list[str]]]:
    """A CSV's rows by the line each starts on, with the line it ends on (the header is 1)."""
    text = data.decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = {1: (1, next(reader, []))}
    start = 2
    for row in reader:
        rows[start] = (reader.line_num, row)
        start = reader.line_num + 1
    return rows


def _csv_cell(
    mirrors: Mirrors, repo: str, commit: str, path: str, line: int, column: str | int
) -> str:
    rows = mirrors.csv_rows(repo, commit, path)
    index = rows[1][1].index(column) if isinstance(column, str) else column
    found = rows.get(line) if line > 1 else None
    if found is None:
        raise MirrorError(f"{repo}:{path}: no CSV row starts at line {line}")
    return found[1][index].strip()
