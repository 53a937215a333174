"""Source ids resolved against real git mirrors (made here, in a temporary folder)."""

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

import pytest

from bot.corpus.sources import (
    EN_REVIEWS,
    EN_REVIEWS_PATH,
    JDDC_CHAT,
    JDDC_SEQ,
    REVIEWS,
    REVIEWS_MEMBER,
    REVIEWS_PATH,
    MirrorError,
    Mirrors,
    english_reviews,
    jddc_chat_turns,
    jddc_seq_turns,
    negative_reviews,
    resolve,
    retail_tweets,
    sheet_tweets,
    unlabelled_chinese,
)

CHAT = (
    "s1\tU1\t0\t0\t0\tnan\t你好，我的快递还没到\n"
    "s1\tU1\t1\t0\t0\tnan\t亲，请稍等\n"
    "s2\tU2\t0\t0\t0\tnan\t发票怎么开\n"
)
SEQ = "第一句,客服回复,最后一句\n只有一句\n"
SEQ_REPLIES = "客服的回答\n第二个回答\n"
REVIEWS_CSV = 'cat,label,review\n手机,1,很好\n手机,0,屏幕坏了\n衣服,0,"线头多,\n掉色"\n'
TWEETS = (
    "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n"
    '1,u9,True,x,"@AmazonHelp where is\nmy parcel",,\n'
    "2,AmazonHelp,False,x,@u9 sorry,,\n"
    "3,u8,True,x,@AppleSupport my phone,,\n"
)
AMAZON_CSV = (
    "target,input\n"
    'Very Negative,"Broke after a week,\nvery disappointed"\n'
    "Positive,Love it\n"
    "Neutral,It is fine I guess\n"
)


SHEET_STRINGS = [
    "author_id",
    "inbound",
    "text",
    "@115821 parcel left in the rain &amp; soaked",
    "u7",
]


def _xlsx() -> bytes:
    """A minimal workbook: shared strings, a boolean column, one inbound and one outbound row."""
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    strings = "".join(f"<si><t>{text}</t></si>" for text in SHEET_STRINGS)
    rows = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
        '<c r="C1" t="s"><v>2</v></c></row>'
        '<row r="2"><c r="A2" t="s"><v>4</v></c><c r="B2" t="b"><v>1</v></c>'
        '<c r="C2" t="s"><v>3</v></c></row>'
        '<row r="3"><c r="A3"><v>115821</v></c><c r="B3" t="b"><v>0</v></c>'
        '<c r="C3" t="inlineStr"><is><t>@u7 sorry to hear that</t></is></c></row>'
    )
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as book:
        book.writestr("xl/sharedStrings.xml", f"<sst {ns}>{strings}</sst>")
        book.writestr(
            "xl/worksheets/sheet1.xml", f"<worksheet {ns}><sheetData>{rows}</sheetData></worksheet>"
        )
    return archive.getvalue()


def _repo(root: Path, name: str, files: dict[str, bytes]) -> None:
    work = root / "work" / name.replace("/", "+")
    work.mkdir(parents=True)
    for path, data in files.items():
        target = work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(work)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "data"], check=True)
    bare = root / "mirrors" / name.replace("/", "+") / "repo"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)


@pytest.fixture(scope="module")
def mirrors(tmp_path_factory: pytest.TempPathFactory) -> Mirrors:
    root = tmp_path_factory.mktemp("sources")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr(REVIEWS_MEMBER, REVIEWS_CSV.encode())
    _repo(root, JDDC_CHAT, {"data/chat_0.1per.txt": CHAT.encode()})
    _repo(
        root,
        JDDC_SEQ,
        {
            "data/train.enc": SEQ.encode(),
            "data/train.dec": SEQ_REPLIES.encode(),
            "data/test.enc": b"",
            "data/test.dec": b"",
        },
    )
    _repo(root, REVIEWS, {REVIEWS_PATH: archive.getvalue()})
    _repo(root, "S0l0m4n/aie3-twitter-customer-support", {"data/test_set.csv": TWEETS.encode()})
    _repo(root, EN_REVIEWS, {EN_REVIEWS_PATH: AMAZON_CSV.encode()})
    _repo(root, "kechtel/ericsson", {"data/labeled/twcs-AmazonHelp-200-inbound.xlsx": _xlsx()})
    for name, path in [
        ("divya-gh/conversational-ai-analyst", "data/twcs_clean.csv"),
        ("monalisapatra26/data_visualization", "twcs.csv"),
        ("naman-tiwari/Customer-Support-on-Twitter", "sample.csv"),
    ]:
        _repo(root, name, {path: TWEETS.splitlines()[0].encode() + b"\n"})
    return Mirrors(root / "mirrors")


def test_chat_turns_are_the_buyers_grouped_by_session(mirrors: Mirrors) -> None:
    turns = list(jddc_chat_turns(mirrors))
    assert [(t.text, t.group) for t in turns] == [
        ("你好，我的快递还没到", "jddc:s1"),
        ("发票怎么开", "jddc:s2"),
    ]
    assert all(resolve(mirrors, t.source_id) == t.text for t in turns)


def test_seq_lines_give_first_and_last_turn(mirrors: Mirrors) -> None:
    turns = list(jddc_seq_turns(mirrors))
    assert [t.text for t in turns] == ["第一句", "最后一句", "只有一句", "只有一句"]
    assert all(resolve(mirrors, t.source_id) == t.text for t in turns)


def test_negative_reviews_from_inside_the_zip(mirrors: Mirrors) -> None:
    reviews = list(negative_reviews(mirrors))
    assert [r.text for r in reviews] == ["屏幕坏了", "线头多,\n掉色"]
    assert reviews[1].source_id.endswith(":4")  # the line where a multi-line row starts
    assert all(resolve(mirrors, r.source_id) == r.text for r in reviews)


def test_only_inbound_tweets_to_retailers(mirrors: Mirrors) -> None:
    tweets = list(retail_tweets(mirrors))
    assert [t.text for t in tweets] == ["@AmazonHelp where is\nmy parcel"]
    assert tweets[0].group == "tw:u9"
    assert resolve(mirrors, tweets[0].source_id) == tweets[0].text


def test_english_reviews_are_the_negative_and_neutral_ones(mirrors: Mirrors) -> None:
    reviews = list(english_reviews(mirrors))
    assert [(r.text, r.group) for r in reviews] == [
        ("Broke after a week,\nvery disappointed", "amazon:2"),
        ("It is fine I guess", "amazon:5"),
    ]
    assert all(resolve(mirrors, r.source_id) == r.text for r in reviews)


def test_inbound_tweets_from_a_spreadsheet_sample(mirrors: Mirrors) -> None:
    tweets = list(sheet_tweets(mirrors))
    assert [(t.text, t.group) for t in tweets] == [
        ("@115821 parcel left in the rain & soaked", "tw:u7")
    ]
    assert tweets[0].source_id.endswith(":2:text")
    assert resolve(mirrors, tweets[0].source_id) == tweets[0].text


def test_a_missing_mirror_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MirrorError, match="no mirror of"):
        Mirrors(tmp_path).head(JDDC_CHAT)


def test_unlabelled_chinese_is_every_text_of_both_sides_in_the_split_groups(
    mirrors: Mirrors,
) -> None:
    """What word clusters learn from: the agents' turns and positive reviews too, each in
    the group its labelled texts would be in (so the split can keep test groups out)."""
    found = [(t.text, t.group) for t in unlabelled_chinese(mirrors)]
    assert found == [
        ("你好，我的快递还没到", "jddc:s1"),
        ("亲，请稍等", "jddc:s1"),
        ("发票怎么开", "jddc:s2"),
        ("第一句", "seq:data/train.enc:1"),
        ("客服回复", "seq:data/train.enc:1"),
        ("最后一句", "seq:data/train.enc:1"),
        ("客服的回答", "seq:data/train.enc:1"),
        ("只有一句", "seq:data/train.enc:2"),
        ("第二个回答", "seq:data/train.enc:2"),
        ("很好", "reviews:手机:0"),
        ("屏幕坏了", "reviews:手机:0"),
        ("线头多,\n掉色", "reviews:衣服:0"),
    ]
