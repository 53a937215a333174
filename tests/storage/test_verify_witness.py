"""The chain-head witness: wording from phrasebook/witness.yaml, `kefu verify --publish` end to end."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import DEFAULT_PHRASEBOOK_DIR, REPO_ROOT
from bot.core.evidence import ChainHead, witness_text
from bot.phrasebook.witness import load_witness_templates
from bot.phrasebook.yamlfile import PhrasebookError
from bot.storage import evidence
from bot.storage.engine import make_engine, make_sessionmaker
from tests.tg.fake_bot_api import TOKEN, FakeBotApi, serve

HEAD = ChainHead(seq=42, hash="ab" * 32)
AT = datetime(2026, 11, 22, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{records} @ {time}", "42 @ 2026-11-22 08:30:00 UTC"),
        ("kefu verify --against {check}", f"kefu verify --against {'ab' * 32}@42"),
        ("{hash}/{seq}", f"{'ab' * 32}/42"),
    ],
)
def test_witness_text(template: str, expected: str) -> None:
    assert witness_text(template, head=HEAD, records=42, at=AT) == expected


def test_shipped_templates_load_for_every_language() -> None:
    templates = load_witness_templates(DEFAULT_PHRASEBOOK_DIR)
    assert sorted(templates) == ["en", "zh-Hans", "zh-Hant"]
    assert all(
        str(HEAD) in witness_text(t, head=HEAD, records=1, at=AT) for t in templates.values()
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("zh-Hans: a\nzh-Hant: b\n", "witness.yaml:1: en: a non-empty template is required"),
        ("zh-Hans: a\nzh-Hant: b\nen: '{owner}'\n", "witness.yaml:3: en: unknown variable {owner}"),
        ("zh-Hans: a\nzh-Hant: b\nen: c\nfr: d\n", "witness.yaml:4: unknown language 'fr'"),
    ],
)
def test_broken_templates_name_file_and_line(tmp_path: Path, body: str, message: str) -> None:
    (tmp_path / "witness.yaml").write_text(body, encoding="utf-8")
    with pytest.raises(PhrasebookError) as caught:
        load_witness_templates(tmp_path)
    assert message in str(caught.value)


async def test_cli_verify_publish_posts_head_to_supervisors(
    migrated_url: str, tmp_path: Path
) -> None:
    engine = make_engine(migrated_url)
    async with make_sessionmaker(engine)() as session:
        await evidence.append_audit(session=session, actor_telegram_id=1, action="export")
        await session.commit()
        head = await evidence.chain_head(session=session)
    api_state = FakeBotApi([])
    with serve(api_state) as api:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
        env.update(
            {
                "KEFU_DATABASE_URL": migrated_url,
                "KEFU_DATA_DIR": str(tmp_path),
                "KEFU_BOT_TOKEN": TOKEN,
                "KEFU_TELEGRAM_BASE_URL": f"{api}/bot",
                "KEFU_SUPERVISOR_CHAT_ID": "-100777",
                "KEFU_LANGUAGE": "en",
            }
        )
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot", "verify", "--publish"],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO_ROOT,
            timeout=120,
            check=False,
        )
    async with make_sessionmaker(engine)() as session:
        after = await evidence.chain_head(session=session)
    await engine.dispose()
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == [
        f"OK: 1 records, head {head.hash}",
        f"published head {head} to the supervisors' chat",
    ]
    assert [int(m["chat_id"]) for m in api_state.sent] == [-100777]
    assert f"Check later: kefu verify --against {head}" in api_state.sent[0]["text"]
    assert after.seq == head.seq + 1  # the publication itself is audited in the chain
