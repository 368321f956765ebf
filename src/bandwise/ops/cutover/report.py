"""The cutover report: every step with its timing, the freeze window, the outcome."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bandwise.ops.cutover.estimate import FreezePhase
from bandwise.ops.private_files import write_private_text


@dataclass
class StepRecord:
    """One step of the procedure."""

    name: str
    status: str = "pending"  # ok | failed | skipped | pending
    seconds: float = 0.0
    detail: str = ""


@dataclass
class CutoverReport:
    """What the cutover (or its rehearsal) did and why it ended as it did."""

    rehearsal: bool
    sqlite_path: str
    target: str
    steps: list[StepRecord] = field(default_factory=list)
    succeeded: bool = False
    failure: str | None = None
    failed_step: str | None = None
    rollback: list[str] = field(default_factory=list)
    backup_path: str | None = None
    backup_sha256: str | None = None
    env_backup_path: str | None = None
    freeze_seconds: float | None = None
    expected_freeze_seconds: float | None = None
    # A rehearsal's estimate of the real freeze, phase by phase, and the rate it rests on.
    freeze_estimate: list[FreezePhase] = field(default_factory=list)
    import_rows_per_second: float | None = None
    imported_rows: dict[str, int] = field(default_factory=dict)
    # Rows the import set aside in import_quarantine (--on-bad-rows quarantine), per table.
    quarantined_rows: dict[str, int] = field(default_factory=dict)
    started_at: str = ""
    finished_at: str = ""

    def step(self, name: str) -> StepRecord:
        """Return the record of step ``name``, adding it when new."""
        for record in self.steps:
            if record.name == name:
                return record
        record = StepRecord(name)
        self.steps.append(record)
        return record

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data."""
        return asdict(self)

    def to_markdown(self) -> str:
        """Render the report as Markdown (for the change log of the operator)."""
        title = "Cutover rehearsal" if self.rehearsal else "Cutover"
        verdict = "succeeded" if self.succeeded else f"FAILED at {self.failed_step}"
        lines = [
            f"# {title} {verdict}",
            "",
            f"- SQLite: `{self.sqlite_path}`",
            f"- PostgreSQL: `{self.target}`",
            f"- Started {self.started_at}, finished {self.finished_at}",
        ]
        if self.backup_path:
            lines.append(f"- SQLite backup: `{self.backup_path}` (sha256 `{self.backup_sha256}`)")
        if self.freeze_seconds is not None:
            lines.append(f"- Write freeze: {self.freeze_seconds:.2f} s")
        if self.expected_freeze_seconds is not None:
            lines.append(f"- Expected write freeze: {self.expected_freeze_seconds:.2f} s")
            lines += [
                f"  - {phase.name}: {phase.seconds:.2f} s ({phase.basis})"
                for phase in self.freeze_estimate
            ]
        lines += ["", "| step | status | seconds | detail |", "| --- | --- | ---: | --- |"]
        for record in self.steps:
            detail = record.detail.replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {record.name} | {record.status} | {record.seconds:.2f} | {detail} |")
        if self.imported_rows:
            lines += [
                "",
                "Rows imported: "
                + ", ".join(f"{table} {count}" for table, count in self.imported_rows.items()),
            ]
        if self.quarantined_rows:
            lines += [
                "",
                "Rows set aside in import_quarantine: "
                + ", ".join(f"{table} {count}" for table, count in self.quarantined_rows.items()),
            ]
        if self.failure:
            lines += ["", "## What failed", "", self.failure]
        if self.rollback:
            lines += ["", "## Rollback", ""] + [f"- {action}" for action in self.rollback]
        return "\n".join(lines) + "\n"

    def write(self, path: Path) -> list[Path]:
        """Write the JSON report to ``path`` and the Markdown beside it; return both paths."""
        path.parent.mkdir(parents=True, exist_ok=True)
        # Owner-only: a report can quote candidates' text.
        write_private_text(path, json.dumps(self.to_dict(), indent=2, default=str))
        markdown = path.with_suffix(".md")
        write_private_text(markdown, self.to_markdown())
        return [path, markdown]

    def print(self, console: Console) -> None:
        """Print the steps as a table and the verdict."""
        table = Table(title="bandwise cutover" + (" rehearsal" if self.rehearsal else ""))
        for column in ("step", "status", "seconds", "detail"):
            table.add_column(column, justify="right" if column == "seconds" else "left")
        for record in self.steps:
            table.add_row(record.name, record.status, f"{record.seconds:.2f}", record.detail)
        console.print(table)
        if self.backup_path:
            console.print(f"SQLite backup kept at {self.backup_path} (sha256 {self.backup_sha256})")
        if self.freeze_seconds is not None:
            console.print(f"write freeze lasted {self.freeze_seconds:.2f} s")
        if self.expected_freeze_seconds is not None:
            console.print(f"expected write freeze: {self.expected_freeze_seconds:.2f} s")
            for phase in self.freeze_estimate:
                console.print(f"  {phase.name}: {phase.seconds:.2f} s ({phase.basis})")
        if self.succeeded:
            console.print(
                "[green]cutover succeeded[/green]"
                if not self.rehearsal
                else "[green]rehearsal succeeded: nothing live was touched[/green]"
            )
        else:
            console.print(f"[red]cutover failed at {self.failed_step}: {self.failure}[/red]")
            for action in self.rollback:
                console.print(f"  rollback: {action}")
