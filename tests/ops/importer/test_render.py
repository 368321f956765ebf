"""The report renders as a rich table on a terminal, as plain lines otherwise, and as JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from bandwise.ops.importer.render import JSON_CHUNK_ROWS, json_pieces, render, write_json
from bandwise.ops.importer.report import (
    BadValue,
    Check,
    ImportReport,
    QuarantinedRow,
    Transformation,
)


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


def _listing_report(rows: int) -> ImportReport:
    """Return a report that lists every kind of row, with text that needs escaping."""
    report = _report()
    report.transformations = [
        Transformation("rate_limits", n, "window_start", "merged", f'row {n}: "ü"\n\t}}, {{')
        for n in range(rows)
    ]
    report.quarantined = [
        QuarantinedRow("users", "7", "orphan", {"id": 7, "name": "Zoë", "tags": [1, None]}),
        QuarantinedRow("submissions", 8, "bad", {"score": 6.5, "nested": {"a": []}}),
    ]
    report.bad_values = [BadValue("users", 7, None, "", "orphan", "user is gone")]
    report.checks.append(Check("users: content checksum", False, "expected 1, found 2"))
    report.defaulted_columns = {"users": ["locale", "timezone"]}
    return report


def test_json_report_is_the_report_as_data(tmp_path: Path) -> None:
    report = _listing_report(2 * JSON_CHUNK_ROWS + 3)
    path = tmp_path / "import.json"
    write_json(report, path)
    assert json.loads(path.read_text()) == json.loads(json.dumps(report.to_dict()))


_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()


@given(
    source_ids=st.lists(_scalars, max_size=5),
    texts=st.lists(st.text(), min_size=1, max_size=5),
    row_data=st.dictionaries(st.text(), _scalars | st.lists(_scalars), max_size=4),
)
def test_json_report_matches_for_any_values(
    source_ids: list[object], texts: list[str], row_data: dict[str, object]
) -> None:
    report = _report()
    report.transformations = [
        Transformation(text, source_id, text, "kind", text)
        for source_id in source_ids
        for text in texts
    ]
    report.quarantined = [QuarantinedRow(texts[0], source_ids[:1], texts[-1], row_data)]
    report.bad_values = [BadValue(text, text, None, text, "kind", text) for text in texts]
    assert json.loads("".join(json_pieces(report))) == json.loads(json.dumps(report.to_dict()))


def test_json_report_is_written_in_bounded_pieces() -> None:
    report = _listing_report(5 * JSON_CHUNK_ROWS)
    pieces = list(json_pieces(report))
    biggest = max(len(piece) for piece in pieces)
    longest_row = max(len(json.dumps(row)) for row in report.to_dict()["transformations"])
    assert biggest <= JSON_CHUNK_ROWS * (longest_row + len(",\n    ")) + len("\n    ")
    assert len(pieces) > 5


def test_json_report_lists_one_row_a_line(tmp_path: Path) -> None:
    report = _listing_report(3)
    path = tmp_path / "import.json"
    write_json(report, path)
    lines = path.read_text().splitlines()
    listed = [json.loads(line.strip().rstrip(",")) for line in lines if line.startswith("    {")]
    assert listed[:3] == [
        json.loads(json.dumps(row)) for row in report.to_dict()["transformations"]
    ]
    assert len(listed) == 3 + len(report.quarantined) + len(report.bad_values) + len(report.checks)
