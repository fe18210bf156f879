"""contrib/: the systemd unit passes systemd-analyze, and the Containerfile's build steps build a
server that starts, answers its healthcheck and stops on SIGTERM."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONTRIB = Path(__file__).resolve().parent.parent / "contrib"
SELCHAT = Path(sys.executable).parent / "selchat"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_unit_verifies(tmp_path: Path) -> None:
    """Every key known to systemd (an unknown one is only a warning, so any output fails), and
    its command there: the unit names /opt/selchat's checkout, this test the one it runs from."""
    unit = (CONTRIB / "selchat.service").read_text()
    assert "/opt/selchat/.venv/bin/selchat serve" in unit
    local = tmp_path / "selchat.service"
    local.write_text(unit.replace("/opt/selchat/.venv/bin/selchat", str(SELCHAT)))
    done = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and not done.stderr.strip() and not done.stdout.strip(), done.stderr + done.stdout
    for hardening in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/selchat",
                      "StateDirectory=selchat", "Restart=on-failure", "ExecReload=/bin/kill -HUP $MAINPID",
                      "User=selchat"):
        assert hardening in unit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_a_misspelt_unit_is_found(tmp_path: Path) -> None:
    """The check above can fail: a key systemd does not know is reported."""
    local = tmp_path / "selchat.service"
    unit = (CONTRIB / "selchat.service").read_text().replace("/opt/selchat/.venv/bin/selchat", str(SELCHAT))
    local.write_text(unit.replace("NoNewPrivileges=", "NoNewPrivilege="))
    done = subprocess.run(["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=30)
    assert "NoNewPrivilege" in done.stderr


@pytest.mark.timeout(240)
def test_the_container_build_steps_make_a_server() -> None:
    done = subprocess.run([sys.executable, str(CONTRIB / "check-containerfile")], capture_output=True,
                          text=True, timeout=230)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "the healthcheck passed" in done.stdout


def test_an_image_as_root_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "Containerfile"
    bad.write_text((CONTRIB / "Containerfile").read_text().replace("USER selchat", "USER root"))
    done = subprocess.run([sys.executable, str(CONTRIB / "check-containerfile"), str(bad)], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 1 and "runs as root" in done.stderr
