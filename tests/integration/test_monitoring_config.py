"""The monitoring files are valid and the alert rules do what they say, checked by Prometheus's and
Alertmanager's own tools (Debian's prometheus and prometheus-alertmanager packages; missing
tools fail: `.ci/run` installs them)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from contract.settings import PROJECT_ROOT, Settings
from dongbo.stack import alertmanager_config, prometheus_config

MONITORING = PROJECT_ROOT / "monitoring"


def run(*cmd: str | Path) -> str:
    tool = shutil.which(str(cmd[0]))
    assert tool, f"{cmd[0]} is missing: apt-get install prometheus prometheus-alertmanager"
    res = subprocess.run([tool, *map(str, cmd[1:])], capture_output=True, text=True, check=False, timeout=120)
    assert res.returncode == 0, f"{' '.join(map(str, cmd))}:\n{res.stdout}{res.stderr}"
    return res.stdout + res.stderr


def test_every_alert_rule_passes_its_unit_tests() -> None:
    tests = sorted((MONITORING / "prometheus" / "tests").glob("*.yml"))
    assert tests
    out = run("promtool", "test", "rules", *tests)
    assert "SUCCESS" in out


def test_every_alert_rule_is_tested() -> None:
    """A rule without a promtool test is a rule nobody knows fires."""
    import yaml

    rules = {
        r["alert"]
        for f in (MONITORING / "prometheus" / "rules").glob("*.yml")
        for g in yaml.safe_load(f.read_text())["groups"]
        for r in g["rules"]
        if "alert" in r
    }
    tested = {
        case["alertname"]
        for f in (MONITORING / "prometheus" / "tests").glob("*.yml")
        for t in yaml.safe_load(f.read_text())["tests"]
        for case in t.get("alert_rule_test", [])
    }
    assert rules and rules <= tested, f"untested rules: {sorted(rules - tested)}"


def test_the_prometheus_configurations_are_valid(tmp_path: Path) -> None:
    run("promtool", "check", "rules", *sorted((MONITORING / "prometheus" / "rules").glob("*.yml")))
    run("promtool", "check", "config", MONITORING / "prometheus" / "prometheus.yml")  # docker-compose's
    local = tmp_path / "prometheus.yml"
    local.write_text(prometheus_config(Settings(), tmp_path / "targets"))  # the local stack's
    out = run("promtool", "check", "config", local)
    assert "rule files found" in out or "SUCCESS" in out


@pytest.mark.parametrize("which", ["compose", "local"])
def test_the_alertmanager_configurations_are_valid(tmp_path: Path, which: str) -> None:
    path = MONITORING / "alertmanager" / "alertmanager.yml"
    if which == "local":
        path = tmp_path / "alertmanager.yml"
        path.write_text(alertmanager_config(Settings()))
    out = run("amtool", "check-config", path)
    assert "SUCCESS" in out and "1 receivers" in out
