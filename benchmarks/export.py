"""Export speed and memory: 1,000,000 generated messages exported as csv and jsonl, beside a plain
SELECT of the same rows streamed to /dev/null, in the same run. Prints figures; not a test.

    .venv/bin/python benchmarks/export.py [--messages 1000000] [--keep PATH]

Generation bypasses the hash chain for speed (rows get random-looking hashes and consecutive
sequence numbers, inserted with the stdlib sqlite3 driver); the append-only triggers of the
migrated schema stay in place. The exports themselves run exactly as `kefu export` does (the
same service, streamed keyset pages, the audit record at the end). Each phase runs in its own
process so its peak RSS is its own. Target: within 3x the plain stream, peak RSS under 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
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

TEXTS = (
    "还没收到货，物流三天没动了",
    "快递盒子破了，里面少了一件",
    "我要退款，质量太差了",
    "再不处理我就给差评",
    "亲，已经为您加急处理，请放心",
    "非常抱歉给您带来不便，马上为您补发",
)
CATEGORIES = ("not_received", "damaged_missing", "return_refund", "bad_review", None, None)
FLAGS = ("urgent", "", "angry", "threatens_review", "", "")


def generate(path: Path, messages: int) -> None:
    """A migrated SQLite database with `messages` messages over messages/20 conversations."""
    from bot.storage import migrate

    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    cases = max(1, messages // 20)
    start = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    stamp = "%Y-%m-%d %H:%M:%S.%f"
    conn.executemany(
        "INSERT INTO buyers (id, telegram_user_id, platform, display_name, created_at)"
        " VALUES (?, ?, 'telegram', ?, ?)",
        ((i, 10_000 + i, f"买家{i}", start.strftime(stamp)) for i in range(1, cases + 1)),
    )
    conn.executemany(
        "INSERT INTO conversations (id, buyer_id, status, platform, opened_at, updated_at)"
        " VALUES (?, ?, 'new', 'telegram', ?, ?)",
        (
            (i, i, (start + timedelta(minutes=i)).strftime(stamp), start.strftime(stamp))
            for i in range(1, cases + 1)
        ),
    )

    def rows():  # type: ignore[no-untyped-def]
        for seq in range(1, messages + 1):
            case = (seq - 1) // 20 + 1
            kind = seq % 6
            sent = (start + timedelta(minutes=case, seconds=seq % 20 * 30)).strftime(stamp)
            yield (
                seq,
                seq,
                hashlib.sha256(seq.to_bytes(8, "big")).hexdigest(),
                case,
                case,
                "out" if kind >= 4 else "in",
                0,
                "text",
                TEXTS[kind],
                CATEGORIES[kind],
                FLAGS[kind],
                sent,
                sent,
            )

    conn.executemany(
        "INSERT INTO messages (id, seq, hash, conversation_id, buyer_id, direction, revision,"
        " content_type, text, category, flags, sent_at, received_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows(),
    )
    last = hashlib.sha256(messages.to_bytes(8, "big")).hexdigest()
    conn.execute("UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1", (messages, last))
    conn.commit()
    conn.close()


async def _phase(name: str, path: Path) -> int:
    from bot.config import load_settings
    from bot.core.export_filter import ExportFilter, ExportFormat
    from bot.core.roles import Role
    from bot.core.types import Language
    from bot.storage.database import Database
    from bot.storage.exports.messages import stream_plain_messages

    url = f"sqlite+aiosqlite:///{path}"
    db = Database.open(url)
    try:
        with open(os.devnull, "wb") as sink:  # noqa: ASYNC230 (writes to /dev/null never block)
            if name == "plain":
                count = 0
                async with db.session() as session:
                    async for row in stream_plain_messages(session=session):
                        sink.write(repr(row).encode("utf-8"))
                        count += 1
                return count
            from bot.export.service import ExportRequest, write_export
            from bot.phrasebook.loader import load_phrasebook

            settings = load_settings(_env_file=None, data_dir=path.parent, database_url=url)
            wording = load_phrasebook(settings.phrasebook_dir).wording
            request = ExportRequest(
                format=ExportFormat(name),
                filters=ExportFilter(),
                actor_telegram_id=None,
                actor_role=Role.ADMIN,
                language=Language.ZH_HANS,
                via="benchmark",
                # The generated rows bypass the hash chain, so the chain check fails at once
                # (it stops at the first breaks): the figures are the export's own cost.
                allow_broken=True,
            )
            return await write_export(
                db=db, settings=settings, wording=wording, request=request, out=sink
            )
    finally:
        await db.close()


def child(name: str, path: Path) -> None:
    started = time.perf_counter()
    rows = asyncio.run(_phase(name, path))
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"phase": name, "rows": rows, "seconds": elapsed, "peak_rss_mb": peak_mb}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="Keep the generated database at this path.")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        child(args.phase, args.db)
        return
    with tempfile.TemporaryDirectory() as scratch:
        path = args.keep or Path(scratch) / "bench.db"
        started = time.perf_counter()
        generate(path, args.messages)
        print(
            f"generated {args.messages:,} messages in {time.perf_counter() - started:.1f} s "
            f"({path.stat().st_size / 1e6:.0f} MB SQLite)"
        )
        results = {}
        for phase in ("plain", "csv", "jsonl"):
            output = subprocess.run(
                [sys.executable, __file__, "--phase", phase, "--db", str(path)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            results[phase] = json.loads(output.strip().splitlines()[-1])
        plain = results["plain"]["seconds"]
        print(f"{'phase':<8}{'rows':>12}{'seconds':>10}{'x plain':>9}{'peak RSS MB':>13}")
        for phase, result in results.items():
            print(
                f"{phase:<8}{result['rows']:>12,}{result['seconds']:>10.1f}"
                f"{result['seconds'] / plain:>9.2f}{result['peak_rss_mb']:>13.0f}"
            )
        worst = max(r["seconds"] / plain for p, r in results.items() if p != "plain")
        peak = max(r["peak_rss_mb"] for r in results.values())
        print(
            f"target: exports within 3x the plain stream ({'met' if worst <= 3 else 'MISSED'}: "
            f"{worst:.2f}x), peak RSS under 300 MB ({'met' if peak < 300 else 'MISSED'}: "
            f"{peak:.0f} MB)"
        )


if __name__ == "__main__":
    main()
