"""deploy/prometheus/alerts.yml passes promtool, matches the built-in rules; the dashboard and
the /metrics exposition agree."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from bandwise.config import Settings
from bandwise.ops.monitoring.prometheus_rules import prometheus_duration, render_alert_rules
from bandwise.ops.monitoring.rules import DEFAULT_RULES
from bandwise.ops.monitoring.service import Monitoring
from bandwise.runtime import Runtime
from testkit.backup import write_manifest
from testkit.tools import require_tool

SUFFIXES = ("_bucket", "_count", "_sum")


def _promtool(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [require_tool("promtool"), *args], input=stdin, capture_output=True, timeout=60, check=False
    )


@pytest.mark.system_tools  # promtool
def test_alert_rules_pass_promtool_check_and_unit_tests(project_root: Path) -> None:
    rules = project_root / "deploy" / "prometheus"
    checked = _promtool("check", "rules", str(rules / "alerts.yml"))
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
    tested = _promtool("test", "rules", str(rules / "alerts.test.yml"))
    assert tested.returncode == 0, tested.stdout.decode() + tested.stderr.decode()


def test_alerts_yml_is_generated_from_the_builtin_rules(project_root: Path) -> None:
    path = project_root / "deploy" / "prometheus" / "alerts.yml"
    assert path.read_text(encoding="utf-8") == render_alert_rules(), (
        "deploy/prometheus/alerts.yml is out of date: run `bandwise db alert-rules`"
    )
    text = path.read_text(encoding="utf-8")
    in_file = re.findall(r"^\s*- alert: (\w+)", text, re.MULTILINE)
    assert in_file == [rule.name for rule in DEFAULT_RULES]


def test_hold_times_are_the_same_in_both(project_root: Path) -> None:
    text = (project_root / "deploy" / "prometheus" / "alerts.yml").read_text(encoding="utf-8")
    blocks = re.split(r"^\s*- alert: ", text, flags=re.MULTILINE)[1:]
    held = {block.split()[0]: re.search(r"^\s*for: (\S+)", block, re.MULTILINE) for block in blocks}
    for rule in DEFAULT_RULES:
        found = held[rule.name]
        assert (found.group(1) if found else None) == (
            prometheus_duration(rule.for_seconds) if rule.for_seconds else None
        ), rule.name
    assert "increase(bandwise_pg_deadlocks_total[5m])" in text  # the deadlock window: 5 min


def test_alert_rules_command_checks_and_writes(bandwise_executable: str, tmp_path: Path) -> None:
    target = tmp_path / "alerts.yml"
    stale = _bandwise(bandwise_executable, "db", "alert-rules", "--check", "-o", str(target))
    assert stale.returncode == 1 and "out of date" in stale.stderr
    wrote = _bandwise(bandwise_executable, "db", "alert-rules", "-o", str(target))
    assert wrote.returncode == 0 and target.read_text(encoding="utf-8") == render_alert_rules()
    fresh = _bandwise(bandwise_executable, "db", "alert-rules", "--check", "-o", str(target))
    assert fresh.returncode == 0, fresh.stderr


def _bandwise(executable: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [executable, *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.system_tools  # promtool
async def test_exposition_is_valid_and_covers_dashboard_and_rules(
    runtime: Runtime,
    settings: Settings,
    project_root: Path,
    engine_name: str,
) -> None:
    write_manifest(settings.backup_dir, 1, "passed")
    monitoring = Monitoring(runtime)
    try:
        await monitoring.tick()
        exposition = monitoring.metrics.exposition()
    finally:
        await monitoring.stop()
    linted = _promtool("check", "metrics", stdin=exposition)
    assert linted.returncode == 0, linted.stdout.decode() + linted.stderr.decode()
    if engine_name != "postgresql":
        return
    exported = set(re.findall(r"^# TYPE (\w+) (\w+)", exposition.decode(), re.MULTILINE))
    names = {name for name, _ in exported}
    names |= {f"{name}_total" for name, kind in exported if kind == "counter"}
    names |= {
        f"{name}{suffix}" for name, kind in exported if kind == "histogram" for suffix in SUFFIXES
    }
    dashboard = json.loads((project_root / "deploy" / "grafana" / "bandwise.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    rules_text = (project_root / "deploy" / "prometheus" / "alerts.yml").read_text()
    used = set(re.findall(r"\bbandwise_[a-z_]+", " ".join(expressions) + rules_text))
    assert used - names == set()
    assert len(dashboard["panels"]) >= 15
