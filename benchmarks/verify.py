"""`kefu verify` over a large log: wall time, records per second, peak memory; DB bytes per message.

Builds a SQLite log of N buyer messages, each with its raw update (2N chained records, hashed
exactly as the repository does (chain format 2: fresh salts per record), inserted in bulk for speed), reports the database size per
message, then runs the real `python -m bot verify` on it in a child process and reports its wall
time and peak RSS.

Usage: .venv/bin/python benchmarks/verify.py [--messages 500000] [--keep PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.core.evidence import GENESIS_HASH
from bot.storage import migrate
from bot.storage.evidence import MESSAGES, RAW_UPDATES
from bot.storage.sealing import hashed_names, seal

START = datetime(2026, 11, 1, tzinfo=UTC)
RAW_HASHED = hashed_names(RAW_UPDATES)
MESSAGE_HASHED = hashed_names(MESSAGES)
TEXTS = (
    "亲，我的快递三天没动了，订单号 1234567890123，什么时候能到？",
    "收到的杯子碎了，怎么处理？",
    "不给退款我就给差评",
    "请问可以开发票吗",
)


def _sqlite_time(value: datetime) -> str:
    # SQLAlchemy's SQLite DateTime storage format (naive UTC).
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def build(path: Path, messages: int) -> None:
    """Create and fill the database with `messages` buyer messages and their raw updates."""
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    now = _sqlite_time(START)
    db.execute(
        "INSERT INTO buyers (id, telegram_user_id, platform, display_name, created_at) "
        "VALUES (1, 1, 'telegram', '王女士', ?)",
        (now,),
    )
    db.execute(
        "INSERT INTO conversations (id, buyer_id, status, platform, opened_at, updated_at) "
        "VALUES (1, 1, 'new', 'telegram', ?, ?)",
        (now, now),
    )
    raw_columns = [c.name for c in RAW_UPDATES.columns]
    msg_columns = [c.name for c in MESSAGES.columns]
    raw_sql = f"INSERT INTO raw_updates ({','.join(raw_columns)}) VALUES ({','.join('?' * len(raw_columns))})"
    msg_sql = f"INSERT INTO messages ({','.join(msg_columns)}) VALUES ({','.join('?' * len(msg_columns))})"
    prev = GENESIS_HASH
    seq = 0
    raw_batch: list[tuple[object, ...]] = []
    msg_batch: list[tuple[object, ...]] = []
    for index in range(1, messages + 1):
        at = START + timedelta(seconds=index, microseconds=index % 997)
        text = TEXTS[index % len(TEXTS)]
        payload = json.dumps(
            {
                "update_id": index,
                "message": {
                    "message_id": index,
                    "from": {
                        "id": 700_000 + index % 5000,
                        "is_bot": False,
                        "first_name": "王",
                        "language_code": "zh-hans",
                    },
                    "chat": {"id": 700_000 + index % 5000, "first_name": "王", "type": "private"},
                    "date": 1_790_000_000 + index,
                    "text": text,
                },
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        seq += 1
        raw = seal(
            "raw_updates",
            RAW_HASHED,
            prev,
            seq,
            {"update_id": index, "payload": payload, "received_at": at},
        )
        prev = raw["hash"]
        raw_batch.append(tuple(_db_value(raw[c]) for c in raw_columns))
        seq += 1
        values = {
            "conversation_id": 1,
            "buyer_id": 1,
            "direction": "in",
            "chat_id": 700_000 + index % 5000,
            "telegram_message_id": index,
            "revision": 0,
            "edit_of_id": None,
            "update_id": index,
            "content_type": "text",
            "text": text,
            "category": ("not_received", "damaged_missing", "extortion", "invoice")[index % 4],
            "confidence": 0.5 + (index % 50) / 100,
            "flags": "angry" if index % 7 == 0 else "",
            "suggestion_index": None,
            "suggestion_edited": None,
            "agent_id": None,
            "sent_at": at - timedelta(seconds=1),
            "received_at": at,
        }
        message = seal("messages", MESSAGE_HASHED, prev, seq, values)
        prev = message["hash"]
        msg_batch.append(tuple(_db_value(message[c]) for c in msg_columns))
        if len(msg_batch) >= 20_000:
            db.executemany(raw_sql, raw_batch)
            db.executemany(msg_sql, msg_batch)
            raw_batch.clear()
            msg_batch.clear()
    db.executemany(raw_sql, raw_batch)
    db.executemany(msg_sql, msg_batch)
    db.execute(
        "UPDATE chain_head SET seq = ?, hash = ?, updated_at = ? WHERE id = 1",
        (seq, prev, now),
    )
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def _db_value(value: object) -> object:
    if isinstance(value, datetime):
        return _sqlite_time(value)
    if isinstance(value, bool):
        return int(value)
    return value


def main() -> None:
    """Build the log, measure its size, time `kefu verify` on it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500_000)
    parser.add_argument("--keep", type=Path, default=None, help="Build here and keep the file.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "kefu.db"
        began = time.perf_counter()
        build(path, args.messages)
        built = time.perf_counter() - began
        size = path.stat().st_size
        records = 2 * args.messages
        print(
            f"built {args.messages:,} messages + {args.messages:,} raw updates = {records:,} records in {built:.1f}s"
        )
        print(
            f"SQLite size: {size / 1e6:,.1f} MB = {size / args.messages:,.0f} bytes per message "
            f"(with its raw update JSON and indexes) = {size / args.messages:,.0f} MB per million messages"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
        env.update(
            {"KEFU_DATABASE_URL": f"sqlite:///{path}", "KEFU_DATA_DIR": str(Path(tmp) / "data")}
        )
        began = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "bot", "verify"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).resolve().parent.parent,
        )
        elapsed = time.perf_counter() - began
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(f"kefu verify exit {done.returncode}: {(done.stdout or done.stderr).strip()[:120]}")
        print(
            f"verify: {records:,} records in {elapsed:.1f}s = {records / elapsed:,.0f} records/s, "
            f"peak RSS {peak_kb / 1024:,.0f} MB (targets: 1M records < 60 s, < 200 MB)"
        )


if __name__ == "__main__":
    main()
