"""`kefu erase` and `kefu verify` after it, as an operator runs them (issue 16)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from bot.storage import migrate
from bot.storage.database import Database
from bot.storage.evidence import append_message, append_raw_update
from bot.storage.repository import get_or_create_buyer, open_conversation_for
from tests.cli.conftest import Kefu

PHONE = "13912345678"
AT = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


async def _seed(url: str) -> int:
    db = Database.open(url)
    try:
        async with db.transaction() as session:
            buyer = await get_or_create_buyer(
                session=session, telegram_user_id=77, display_name="陈"
            )
            case = await open_conversation_for(session=session, buyer_id=buyer.id)
            text = f"电话 {PHONE}"
            await append_raw_update(
                session=session,
                update_id=1,
                payload={"update_id": 1, "message": {"text": text, "from": {"id": 77}}},
                received_at=AT,
            )
            await append_message(
                session=session,
                conversation_id=case.id,
                buyer_id=buyer.id,
                direction="in",
                text=text,
                sent_at=AT,
                chat_id=77,
                telegram_message_id=1,
                update_id=1,
            )
            return int(buyer.id)
    finally:
        await db.close()


def test_issue_16_kefu_erase_then_verify_names_the_erasure(kefu: Kefu, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}"
    migrate.upgrade(url)
    buyer = asyncio.run(_seed(url))
    env = {"KEFU_DATABASE_URL": f"sqlite:///{tmp_path / 'kefu.db'}", "KEFU_DATA_DIR": str(tmp_path)}

    erased = kefu("erase", "--buyer", str(buyer), "--request", "DSR-9", "--by", "ops:lin", env=env)

    assert (erased.code, erased.stderr) == (0, "")
    assert erased.stdout.startswith(
        f"erased buyer {buyer} (request DSR-9): 2 fields in 2 records, 0 attachment files and "
        "0 export files deleted; audit record seq 3; "
    )
    checked = kefu("verify", env=env)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert checked.code == 0
    assert checked.stdout.splitlines()[1:] == [
        f"2 fields erased on {today} by ops:lin (request DSR-9)"
    ]
    assert PHONE.encode() not in (tmp_path / "kefu.db").read_bytes()


def test_issue_16_kefu_erase_refuses_bad_input_in_one_line(kefu: Kefu, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kefu.db'}"
    migrate.upgrade(url)
    asyncio.run(_seed(url))
    env = {"KEFU_DATABASE_URL": f"sqlite:///{tmp_path / 'kefu.db'}", "KEFU_DATA_DIR": str(tmp_path)}

    unknown = kefu("erase", "--buyer", "99", "--request", "R", env=env)
    blank = kefu("erase", "--buyer", "1", "--request", " ", env=env)

    assert (unknown.code, unknown.stderr) == (2, "kefu: error: no buyer with id 99\n")
    assert (blank.code, blank.stderr) == (
        2,
        "kefu: error: an erasure needs a request reference (--request REF)\n",
    )
