"""The supervisors' digest of missed response targets names the target each case was held to."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_settings
from bot.service.acks import MissedTarget
from bot.storage.database import Database
from bot.storage.filestore import AttachmentStore
from bot.tg.context import Services
from bot.tg.jobs import _digest_text
from bot.understanding import load_understanding

PHRASEBOOK = Path(__file__).resolve().parents[2] / "phrasebook"


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Services:
    folder = tmp_path_factory.mktemp("digest")
    settings = load_settings(
        _env_file=None, data_dir=folder, language="en", sla_preset="taobao", sla_target_seconds=180
    )
    return Services(
        settings=settings,
        understanding=load_understanding(PHRASEBOOK),
        db=Database.open(f"sqlite+aiosqlite:///{folder / 'unused.db'}"),
        attachments=AttachmentStore(folder),
    )


def test_one_target_is_named_in_the_title(services: Services) -> None:
    text = _digest_text(
        services, [MissedTarget(1, "Ann", "4m", 180.0), MissedTarget(2, "Bo", "5m", None)]
    )
    title, *lines = text.splitlines()
    assert title == "🚨 Response target missed: 2 cases beyond the 3m00s target"
    assert lines == ["case #1 (Ann) has waited 4m", "case #2 (Bo) has waited 5m"]


def test_cases_held_to_different_targets_each_name_theirs(services: Services) -> None:
    text = _digest_text(
        services, [MissedTarget(1, "Ann", "4m", 180.0), MissedTarget(2, "Bo", "12m", 600.0)]
    )
    title, *lines = text.splitlines()
    assert title == "🚨 Response targets missed: 2 cases beyond their targets"
    assert lines == [
        "case #1 (Ann) has waited 4m, target 3m00s",
        "case #2 (Bo) has waited 12m, target 10m00s",
    ]
