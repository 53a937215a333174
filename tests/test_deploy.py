"""The shipped systemd unit (deploy/kefu.service) passes `systemd-analyze verify`.

What is verified is the shipped file with only its install path (/opt/kefu) replaced by a
folder whose .venv/bin/kefu is this checkout's real entry point, since verify insists that
ExecStart names an existing executable.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "deploy" / "kefu.service"
INSTALL_PATH = "/opt/kefu"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"


def _installed_copy(tmp_path: Path) -> Path:
    install = tmp_path / "kefu"
    (install / ".venv" / "bin").mkdir(parents=True)
    (install / "data").mkdir()
    entry_point = Path(sys.executable).parent / "kefu"
    assert entry_point.is_file(), f"no kefu entry point next to {sys.executable}"
    (install / ".venv" / "bin" / "kefu").symlink_to(entry_point)
    unit = tmp_path / "kefu.service"
    unit.write_text(UNIT.read_text().replace(INSTALL_PATH, str(install)))
    return unit


@pytest.mark.skipif(not Path(SYSTEMD_ANALYZE).exists(), reason="systemd-analyze is not installed")
def test_the_shipped_unit_verifies_cleanly(tmp_path: Path) -> None:
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", str(_installed_copy(tmp_path))],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_the_unit_starts_kefu_from_the_install_path_with_its_data_there() -> None:
    lines = UNIT.read_text().splitlines()
    assert f"ExecStart={INSTALL_PATH}/.venv/bin/kefu run" in lines
    assert f"ExecStartPre={INSTALL_PATH}/.venv/bin/kefu db upgrade" in lines
    assert f"WorkingDirectory={INSTALL_PATH}" in lines
    assert f"Environment=KEFU_DATA_DIR={INSTALL_PATH}/data" in lines
    assert f"ReadWritePaths={INSTALL_PATH}/data" in lines
