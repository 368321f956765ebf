"""`bandwise db import-sqlite` and `bandwise db verify-import`: thin commands over the importer.

The importer and rich are imported when a command runs (the progress bars only on a terminal),
not when the command tree is built.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from bandwise.cli.context import command_settings
from bandwise.cli.errors import fail, run
from bandwise.errors import ImportFailed

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from bandwise.ops.importer import ImportReport

log = logging.getLogger(__name__)

SourceArgument = Annotated[Path, typer.Argument(help="The legacy SQLite file")]
TargetOption = Annotated[
    str | None, typer.Option("--target", help="PostgreSQL URL (default: the configured database)")
]


class _PlainProgress:
    """Log a line per table every few seconds when stdout is not a terminal."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self, table: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last >= 5 or done >= total:
            self.last = now
            log.info("import %s: %d/%d rows", table, done, total)


SkipTableOption = Annotated[
    list[str] | None,
    typer.Option(
        "--skip-table",
        help="Leave this table of SOURCE behind on purpose (repeatable; listed in the report "
        "with its row count). Any other table bandwise does not import fails the import.",
    ),
]


SkipColumnOption = Annotated[
    list[str] | None,
    typer.Option(
        "--skip-column",
        metavar="TABLE.COLUMN",
        help="Leave this column of a table of SOURCE behind on purpose (repeatable; listed in "
        "the report with its values). Any other column bandwise does not import fails the "
        "import.",
    ),
]


def import_sqlite_command(
    source: SourceArgument,
    target: TargetOption = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the JSON report here")
    ] = None,
    on_bad_rows: Annotated[
        str, typer.Option("--on-bad-rows", help="abort (default) or quarantine")
    ] = "abort",
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Abort instead of removing NUL bytes or replacing invalid UTF-8"
        ),
    ] = False,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="Replace the data of a non-empty target (in the same transaction)"
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Do everything, then roll back")
    ] = False,
    worker_process: Annotated[
        bool,
        typer.Option(
            "--worker-process",
            help="Convert in a second process (faster only with an idle core; ~120 MB more)",
        ),
    ] = False,
    skip_table: SkipTableOption = None,
    skip_column: SkipColumnOption = None,
    copy_source: Annotated[
        bool,
        typer.Option(
            "--copy-source",
            help="Read a private copy of SOURCE, so a still-running old bot waits only for the "
            "copy, not the whole import (slower; needs the file's size in temporary space)",
        ),
    ] = False,
) -> None:
    """Import a legacy SQLite database into PostgreSQL: one transaction, verified, reported."""
    from rich.console import Console

    from bandwise.ops.importer import ImportOptions, import_sqlite
    from bandwise.ops.importer.render import render, write_json

    if on_bad_rows not in ("abort", "quarantine"):
        raise typer.BadParameter("must be abort or quarantine", param_hint="--on-bad-rows")
    policy: Literal["abort", "quarantine"] = (
        "quarantine" if on_bad_rows == "quarantine" else "abort"
    )
    settings = command_settings()
    console = Console()
    target_url = target or settings.resolved_database_url

    def execute(progress: Progress | None) -> ImportReport | ImportFailed:
        tasks: dict[str, TaskID] = {}

        def on_progress(table: str, done: int, total: int) -> None:
            assert progress is not None
            if table not in tasks:
                tasks[table] = progress.add_task(table, total=total)
            progress.update(tasks[table], completed=done)

        options = ImportOptions(
            on_bad_rows=policy,
            strict=strict,
            replace=replace,
            dry_run=dry_run,
            convert_in_worker=worker_process,
            copy_source=copy_source,
            skip_tables=tuple(skip_table or ()),
            skip_columns=tuple(skip_column or ()),
            progress=on_progress if progress is not None else _PlainProgress(),
        )

        async def main() -> ImportReport | ImportFailed:
            try:
                return await import_sqlite(source, target_url, settings, options)
            except ImportFailed as error:  # rendered with its report below
                return error

        return run(main)

    if console.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        with Progress(
            "{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            outcome = execute(progress)
    else:
        outcome = execute(None)
    result = outcome.report if isinstance(outcome, ImportFailed) else outcome
    render(result, console)
    if report is not None:
        write_json(result, report)
    if isinstance(outcome, ImportFailed):
        fail(outcome)
    if not result.verified:
        raise typer.Exit(1)


def verify_import_command(
    source: SourceArgument,
    target: TargetOption = None,
    report: Annotated[Path | None, typer.Option("--report")] = None,
    skip_table: SkipTableOption = None,
    skip_column: SkipColumnOption = None,
) -> None:
    """Re-run the import verification: does the target hold exactly the converted source?"""
    from rich.console import Console

    from bandwise.ops.importer import verify_import
    from bandwise.ops.importer.render import render, write_json

    settings = command_settings()
    target_url = target or settings.resolved_database_url
    skips = tuple(skip_table or ()), tuple(skip_column or ())
    result = run(lambda: verify_import(source, target_url, settings, *skips))
    render(result, Console())
    if report is not None:
        write_json(result, report)
    if not result.verified:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the import commands to the `db` command group."""
    app.command("import-sqlite")(import_sqlite_command)
    app.command("verify-import")(verify_import_command)
