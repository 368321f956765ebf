"""Show an import report: a rich table on a terminal, plain lines otherwise, JSON on disk."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bandwise.ops.importer.report import ImportReport
from bandwise.ops.private_files import open_private_text
from bandwise.wording import plural


def write_json(report: ImportReport, path: Path) -> None:
    """Write the report as JSON to ``path`` (top-level ``"verified"``), owner-only (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Streamed, and the listed rows turned into dicts one at a time: a report listing 100,000
    # transformations would otherwise be held three times over (dicts, text, bytes).
    with open_private_text(path) as handle:
        json.dump(report.to_dict(shallow=True), handle, indent=2, default=_plain)
        handle.write("\n")


def _plain(value: Any) -> Any:
    """Return a listed row (a dataclass) as a dict; anything else as its text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def render(report: ImportReport, console: Console) -> None:
    """Print the per-table summary and the verdict (table on a terminal, lines otherwise)."""
    if console.is_terminal:
        _render_table(report, console)
    else:
        _render_lines(report, console)


def _verdict(report: ImportReport) -> str:
    state = "committed" if report.committed else "not committed"
    if report.mode == "verify":
        state = "target checked"
    elif report.mode == "dry-run":
        state = "dry run, rolled back"
    total = report.timings.get("total_seconds", 0.0)
    return f"verified: {str(report.verified).lower()} ({state}, {total:.1f} s)"


def _notes(report: ImportReport) -> list[str]:
    notes = [
        f"skipped table (--skip-table): {name}, {plural(rows, 'row')} not imported"
        for name, rows in report.skipped_tables.items()
    ]
    notes += [
        f"skipped column (--skip-column): {name}, {plural(values, 'value')} not imported"
        for name, values in report.skipped_columns.items()
    ]
    notes += [f"{key}: {count}" for key, count in sorted(report.transformation_counts.items())]
    notes += [
        f"check failed: {check.name} ({check.detail})" for check in report.checks if not check.ok
    ]
    return notes


def _render_lines(report: ImportReport, console: Console) -> None:
    for figures in report.tables.values():
        console.print(
            f"{figures.name}: source={figures.source_rows} imported={figures.imported} "
            f"quarantined={figures.quarantined} transformed={figures.transformed} "
            f"checksum_match={str(figures.checksum_match).lower()} seconds={figures.seconds:.2f}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    for note in _notes(report):
        console.print(note, markup=False, highlight=False, soft_wrap=True)
    console.print(_verdict(report), markup=False, highlight=False)


def _render_table(report: ImportReport, console: Console) -> None:
    table = Table(title=f"{report.mode}: {report.source} → {report.target}")
    for heading in (
        "table",
        "source rows",
        "imported",
        "quarantined",
        "transformed",
        "checksum match",
        "seconds",
    ):
        table.add_column(heading, justify="left" if heading == "table" else "right")
    for figures in report.tables.values():
        table.add_row(
            figures.name,
            str(figures.source_rows),
            str(figures.imported),
            str(figures.quarantined),
            str(figures.transformed),
            "yes" if figures.checksum_match else "NO",
            f"{figures.seconds:.2f}",
        )
    console.print(table)
    for note in _notes(report):
        console.print(f"  {note}", markup=False, highlight=False)
    style = "bold green" if report.verified else "bold red"
    console.print(_verdict(report), style=style, markup=False)
