"""Backups of the evidence database and its files, made while the bot runs, verified when made.

A backup is a folder laid out like a data directory, so a SQLite backup *is* a data directory
(`KEFU_DATA_DIR=BACKUP kefu verify` works on it):

    kefu.db            SQLite's online backup of the live database (a consistent snapshot), or
    kefu.pgdump        PostgreSQL's `pg_dump --format=custom` of it
    attachments/…      every stored file the snapshot's records name (content-addressed copies)
    chain-head.txt     the chain head of the snapshot (`HASH@SEQ`), its record count and time

A PostgreSQL dump is checked by restoring it into a scratch database on the same server, which
is dropped afterwards.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.evidence import ChainBreak, ChainHead, parse_head
from bot.storage.engine import make_engine
from bot.storage.evidence import ATTACHMENTS
from bot.storage.filestore import AttachmentStore
from bot.storage.verify import verify_chain

SQLITE_FILE = "kefu.db"
PG_DUMP_FILE = "kefu.pgdump"
HEAD_FILE = "chain-head.txt"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class BackupReport:
    """What a backup holds and whether its chain verified."""

    path: Path
    kind: str  # "sqlite" or "postgresql"
    head: ChainHead
    records: int
    files: int
    breaks: list[ChainBreak] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the copy's chain and files verified."""
        return not self.breaks


def database_kind(url: str) -> str:
    """ "sqlite" or "postgresql", from a database URL."""
    return "sqlite" if make_url(url).get_backend_name() == "sqlite" else "postgresql"


def sqlite_path(url: str) -> Path:
    """The database file of a SQLite URL."""
    database = make_url(url).database
    if not database:
        raise BackupError(f"{url} names no SQLite file")
    return Path(database)


async def make_backup(*, url: str, data_dir: Path, output: Path) -> BackupReport:
    """Copy the live database and its files into the empty folder `output`, then verify the copy."""
    _prepare_output(output)
    if database_kind(url) == "sqlite":
        source = sqlite_path(url)
        if not source.is_file():
            raise BackupError(f"no database at {source}")
        await asyncio.to_thread(_sqlite_online_backup, source, output / SQLITE_FILE)
        report = await _check_sqlite(output / SQLITE_FILE, files_from=data_dir, files_to=output)
    else:
        await asyncio.to_thread(_pg_dump, url, output / PG_DUMP_FILE)
        async with _scratch_restore(url, output / PG_DUMP_FILE) as scratch:
            report = await _check(
                scratch, kind="postgresql", path=output, files_from=data_dir, files_to=output
            )
    _write_head(output, report)
    return report


async def check_backup(*, path: Path, server_url: str | None = None) -> BackupReport:
    """Verify a backup folder without touching it or the live database.

    The SQLite copy is verified in a temporary copy; a PostgreSQL dump is restored into a
    scratch database on `server_url`'s server. The chain head must equal the one written
    beside the backup when it was made.
    """
    recorded = read_head(path)
    if (path / SQLITE_FILE).is_file():
        with tempfile.TemporaryDirectory(prefix="kefu-check-") as scratch:
            copy = Path(scratch) / SQLITE_FILE
            await asyncio.to_thread(shutil.copyfile, path / SQLITE_FILE, copy)
            report = await _check_sqlite(copy, files_from=path, files_to=None, report_path=path)
    elif (path / PG_DUMP_FILE).is_file():
        if server_url is None or database_kind(server_url) != "postgresql":
            raise BackupError(
                "checking a PostgreSQL dump restores it into a scratch database: "
                "set KEFU_DATABASE_URL to the PostgreSQL server"
            )
        async with _scratch_restore(server_url, path / PG_DUMP_FILE) as scratch:
            report = await _check(
                scratch, kind="postgresql", path=path, files_from=path, files_to=None
            )
    else:
        raise BackupError(f"no backup at {path} (neither {SQLITE_FILE} nor {PG_DUMP_FILE})")
    if report.head != recorded:
        raise BackupError(
            f"the backup's chain head {report.head} differs from {recorded} "
            f"written in {path / HEAD_FILE} when it was made"
        )
    return report


async def restore_backup(*, path: Path, data_dir: Path, url: str | None) -> BackupReport:
    """Verify a backup, then restore it into an empty data directory (and empty database)."""
    report = await check_backup(path=path, server_url=url)
    if not report.ok:
        raise BackupError(f"the backup does not verify: {report.breaks[0]}; nothing restored")
    if (path / SQLITE_FILE).is_file():
        target = data_dir / SQLITE_FILE if url is None else sqlite_path(url)
        if target.exists():
            raise BackupError(f"{target} already exists; restore only into an empty data directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(shutil.copyfile, path / SQLITE_FILE, target)
    else:
        assert url is not None  # check_backup refused a dump without a server
        await asyncio.to_thread(_pg_restore, path / PG_DUMP_FILE, _libpq_url(url))
    await asyncio.to_thread(_copy_tree, path / "attachments", data_dir / "attachments")
    return report


def read_head(path: Path) -> ChainHead:
    """The chain head written beside a backup when it was made."""
    head_file = path / HEAD_FILE
    try:
        first = head_file.read_text(encoding="utf-8").splitlines()[0]
        return parse_head(first)
    except (OSError, IndexError, ValueError) as exc:
        raise BackupError(f"{head_file} is missing or unreadable ({exc})") from None


def _prepare_output(output: Path) -> None:
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise BackupError(f"{output} exists and is not an empty folder")
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create {output}: {exc.strerror}") from None


def _sqlite_online_backup(source: Path, target: Path) -> None:
    # SQLite's backup API copies a consistent snapshot while the bot keeps writing (WAL mode).
    live, copy = sqlite3.connect(source), sqlite3.connect(target)
    try:
        live.backup(copy)
    finally:
        copy.close()
        live.close()


async def _check_sqlite(
    database: Path, *, files_from: Path, files_to: Path | None, report_path: Path | None = None
) -> BackupReport:
    engine = make_engine(f"sqlite+aiosqlite:///{database}")
    try:
        return await _check(
            engine,
            kind="sqlite",
            path=report_path or database.parent,
            files_from=files_from,
            files_to=files_to,
        )
    finally:
        await engine.dispose()


async def _check(
    engine: AsyncEngine, *, kind: str, path: Path, files_from: Path, files_to: Path | None
) -> BackupReport:
    files = 0
    if files_to is not None:
        files = await _copy_files(engine, AttachmentStore(files_from), AttachmentStore(files_to))
    store = AttachmentStore(files_to if files_to is not None else files_from)
    verified = await verify_chain(engine=engine, attachments=store)
    if files_to is None:
        files = sum(1 for item in store.root.rglob("*") if item.is_file())
    return BackupReport(
        path=path,
        kind=kind,
        head=verified.head,
        records=verified.records,
        files=files,
        breaks=verified.breaks,
    )


async def _copy_files(engine: AsyncEngine, source: AttachmentStore, target: AttachmentStore) -> int:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(ATTACHMENTS.c.sha256)
            .where(ATTACHMENTS.c.status == "stored", ATTACHMENTS.c.sha256.is_not(None))
            .distinct()
        )
        digests = [str(row.sha256) for row in rows]

    def copy_all() -> int:
        copied = 0
        for digest in digests:
            origin, destination = source.path_for(digest), target.path_for(digest)
            if not origin.is_file():
                continue  # verification of the copy reports it as missing
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, destination)
            copied += 1
        return copied

    return await asyncio.to_thread(copy_all)


def _copy_tree(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)


def _write_head(output: Path, report: BackupReport) -> None:
    made = datetime.now(UTC).isoformat(timespec="seconds")
    (output / HEAD_FILE).write_text(
        f"{report.head}\nrecords {report.records}\nfiles {report.files}\n"
        f"made {made}\nverified {'ok' if report.ok else 'BROKEN: ' + str(report.breaks[0])}\n",
        encoding="utf-8",
    )


def _libpq_url(url: str) -> str:
    """The URL as libpq tools (pg_dump, pg_restore) read it: no SQLAlchemy driver name."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def _run_tool(command: list[str], what: str) -> None:
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise BackupError(
            f"{command[0]} is not installed (PostgreSQL's client tools, e.g. apt install "
            "postgresql-client)"
        ) from None
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or exc.stdout or "").strip().splitlines()
        raise BackupError(f"{what} failed: {detail[-1] if detail else exc}") from None


def _pg_dump(url: str, target: Path) -> None:
    _run_tool(
        ["pg_dump", "--format=custom", "--no-owner", f"--file={target}", _libpq_url(url)],
        "pg_dump",
    )


def _pg_restore(dump: Path, libpq_url: str) -> None:
    _run_tool(
        ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={libpq_url}", str(dump)],
        "pg_restore",
    )


@asynccontextmanager
async def _scratch_restore(server_url: str, dump: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on a scratch database holding the dump, dropped afterwards."""
    name = f"kefu_backup_check_{uuid.uuid4().hex[:12]}"
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        await admin.dispose()
        raise BackupError(f"cannot create a scratch database to check the dump: {exc}") from None
    scratch_url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(scratch_url)
    try:
        await asyncio.to_thread(_pg_restore, dump, _libpq_url(scratch_url))
        yield engine
    finally:
        await engine.dispose()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
