"""The report renders as a rich table on a terminal, as plain lines otherwise, and as JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from bandwise.ops.importer.render import render, write_json
from bandwise.ops.importer.report import Check, ImportReport


def _report() -> ImportReport:
    report = ImportReport(
        source="legacy.db",
        target="postgresql+asyncpg://u:***@h/db",
        mode="import",
        verified=True,
        committed=True,
    )
    users = report.figures("users")
    users.source_rows = users.imported = users.target_rows = 3
    users.expected_checksum = users.target_checksum = 42
    report.count("users", "created_at", "datetime_respelled", 2)
    report.skipped_tables = {"feedback_votes": 3}
    report.skipped_columns = {"users.locale": 1}
    report.checks.append(Check("users: row count", True))
    report.timings["total_seconds"] = 1.25
    return report


def test_plain_lines_when_not_a_terminal() -> None:
    output = io.StringIO()
    render(_report(), Console(file=output, force_terminal=False, width=200))
    text = output.getvalue()
    assert "users: source=3 imported=3 quarantined=0 transformed=0 checksum_match=true" in text
    assert "skipped table (--skip-table): feedback_votes, 3 rows not imported" in text
    assert "skipped column (--skip-column): users.locale, 1 value not imported" in text
    assert "users.created_at:datetime_respelled: 2" in text
    assert text.rstrip().endswith("verified: true (committed, 1.2 s)")


def test_table_on_a_terminal() -> None:
    output = io.StringIO()
    report = _report()
    report.verified = False
    report.checks.append(Check("users: content checksum", False, "expected 1, found 2"))
    render(report, Console(file=output, force_terminal=True, width=160))
    text = output.getvalue()
    assert "checksum match" in text and "source rows" in text
    assert "check failed: users: content checksum (expected 1, found 2)" in text
    assert "verified: false" in text


def test_json_report_has_verified_first(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "import.json"
    write_json(_report(), path)
    document = json.loads(path.read_text())
    assert next(iter(document)) == "verified"
    assert document["tables"]["users"]["checksum_match"] is True
    assert document["transformation_counts"] == {"users.created_at:datetime_respelled": 2}
