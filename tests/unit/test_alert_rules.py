"""The node's Prometheus alert rules are valid, and fire when they should (promtool, from Debian's
prometheus package; `.ci/run` installs it)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "corridor-alerts.yml"
CASES = Path(__file__).parent / "prometheus" / "corridor-alerts.test.yml"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is missing: .ci/run installs Debian's prometheus package")
        pytest.skip("promtool is missing (apt-get install prometheus)")
    return found


def test_the_alert_rules_are_valid(promtool):
    done = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "10 rules found" in done.stdout


def test_the_alerts_fire_when_a_node_is_in_trouble_and_not_before(promtool):
    done = subprocess.run([promtool, "test", "rules", CASES.name], capture_output=True, text=True, timeout=60, check=False,
                          cwd=CASES.parent)
    assert done.returncode == 0, done.stdout + done.stderr
