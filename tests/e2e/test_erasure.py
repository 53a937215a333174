"""/erase in Telegram (issue 16): an admin erases a buyer who sent phones, an address and a photo.

The agent's press on the confirm button is refused and audited; the admin's erases. Afterwards no
file in the data dir and no byte of the SQLite files holds the phone, the address or the photo,
and the chain verifies.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.emulator import InProcessTelegram
from tests.e2e.kefu import Shop, button_data, is_card, make_shop, running_kefu

pytestmark = pytest.mark.e2e

PHONE = "13987654321"
ADDRESS = "上海市浦东新区世纪大道88号"
PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16


@pytest.fixture
def shop(botapi: InProcessTelegram, tmp_path: Path) -> Shop:
    return make_shop(botapi, tmp_path)


def _secrets_in(data: bytes) -> list[str]:
    found = [s for s in (PHONE, ADDRESS) if s.encode("utf-8") in data]
    return found + (["photo"] if PHOTO in data else [])


async def _until(shop: Shop, sql: str) -> list[dict[str, Any]]:
    for _ in range(100):
        rows = await shop.rows(sql)
        if rows:
            return rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"no rows for {sql}")


async def test_issue_16_an_admin_erases_a_buyer_from_telegram(shop: Shop) -> None:
    botapi, forum = shop.botapi, shop.forum["id"]
    async with running_kefu(shop):
        botapi.send_text(shop.buyer, f"快递没到，电话 {PHONE}，地址 {ADDRESS}")
        await botapi.wait_for_bot_message_async(forum, is_card, timeout=10)
        botapi.send_photo(shop.buyer, PHOTO, caption=f"外箱压坏了 {PHONE}")
        await _until(shop, "SELECT id FROM attachments WHERE status = 'stored'")
        asked = botapi.send_text(shop.admin, "/erase 1 DSR-42", chat=forum)
        confirm = await botapi.wait_for_bot_message_async(
            forum, lambda m: any(d.startswith("er:") for d in button_data(m)), after=asked
        )
        yes = next(d for d in button_data(confirm) if d.endswith(":y"))
        botapi.press_button(shop.agent, confirm, yes, chat=forum)
        refused = await botapi.wait_for_callback_answer_async()
        botapi.press_button(shop.admin, confirm, yes, chat=forum)
        botapi.press_button(shop.admin, confirm, yes, chat=forum)  # a double tap
        for _ in range(100):
            if len(botapi.callback_answers) >= 3:
                break
            await asyncio.sleep(0.05)
        done = await _until(shop, "SELECT id FROM erasures")
        again = next(a for a in botapi.callback_answers[1:] if a.get("text"))

    assert "DSR-42" in confirm["text"]
    assert "权限" in refused["text"]
    assert "已经处理过" in again["text"]  # found by review: a confirmation erased once only
    assert len(done) == 5  # 2 raw updates, 2 messages, 1 attachment
    audits = await shop.rows(
        "SELECT action, actor_telegram_id FROM audit_log WHERE action LIKE 'eras%' ORDER BY seq"
    )
    assert [(a["action"], a["actor_telegram_id"]) for a in audits] == [
        ("erase.requested", shop.admin["id"]),
        ("erase.denied", shop.agent["id"]),
        ("erase.answered", shop.admin["id"]),
        ("erasure", shop.admin["id"]),
    ]
    checked = await shop.verify(attachments=True)
    assert checked.ok, checked.breaks
    assert [e.request_ref for e in checked.erasures] == ["DSR-42"]
    held = {
        str(path): _secrets_in(path.read_bytes())
        for path in shop.settings.data_dir.rglob("*")
        if path.is_file() and _secrets_in(path.read_bytes())
    }
    assert held == {}
