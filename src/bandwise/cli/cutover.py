"""`bandwise db cutover`: move a live SQLite deployment onto PostgreSQL, or rehearse it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bandwise.cli.context import command_settings, open_engine
from bandwise.cli.errors import run
from bandwise.cli.importer import SkipColumnOption, SkipTableOption

if TYPE_CHECKING:
    from bandwise.ops.cutover import CutoverReport, StepRecord


def cutover(
    sqlite: Annotated[Path, typer.Option("--sqlite", help="The live SQLite database file")],
    postgres: Annotated[str, typer.Option("--postgres", help="Target URL postgresql://…")],
    env_file: Annotated[
        Path | None, typer.Option("--env-file", help="Env file whose DATABASE_URL is switched")
    ] = None,
    rehearse: Annotated[
        bool, typer.Option("--rehearse", help="Dry run on a copy into a scratch database")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the JSON report here (and .md beside it)")
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Overwrite a non-empty target")
    ] = False,
    restart_cmd: Annotated[
        str | None, typer.Option("--restart-cmd", help="Command that restarts the service")
    ] = None,
    service_url: Annotated[
        str | None,
        typer.Option("--service-url", help="The running service (default API_HOST:API_PORT)"),
    ] = None,
    service_stopped: Annotated[
        bool, typer.Option("--service-stopped", help="Confirm the service is stopped")
    ] = False,
    skip_table: SkipTableOption = None,
    skip_column: SkipColumnOption = None,
    on_bad_rows: Annotated[
        str, typer.Option("--on-bad-rows", help="abort (default) or quarantine")
    ] = "abort",
) -> None:
    """Cut a live SQLite deployment over to PostgreSQL with verification and rollback."""
    from rich.console import Console

    from bandwise.db.readiness import ping
    from bandwise.ops.cutover import CutoverOptions, run_cutover

    if on_bad_rows not in ("abort", "quarantine"):  # refused before anything is asked or done
        raise typer.BadParameter("must be abort or quarantine", param_hint="--on-bad-rows")
    settings = command_settings(env_file)
    console = Console(stderr=False)
    if not rehearse and not yes:
        if not sys.stdin.isatty():
            console.print("refusing to cut over without --yes (no terminal to confirm on)")
            raise typer.Exit(2)
        typer.confirm(f"Cut {sqlite} over to PostgreSQL now (writes freeze briefly)?", abort=True)

    def progress(record: StepRecord) -> None:
        console.print(f"{record.name}: {record.status} in {record.seconds:.2f} s — {record.detail}")

    options = CutoverOptions(
        sqlite_path=sqlite,
        postgres_url=postgres,
        env_file=env_file,
        rehearse=rehearse,
        replace=replace,
        service_url=service_url,
        service_stopped=service_stopped,
        restart_cmd=restart_cmd,
        on_step=progress,
        skip_tables=tuple(skip_table or ()),
        skip_columns=tuple(skip_column or ()),
        on_bad_rows="quarantine" if on_bad_rows == "quarantine" else "abort",
    )

    async def main() -> CutoverReport:
        async with open_engine(settings, postgres) as engine:  # unreachable: three lines, exit 3
            await ping(engine, settings.db_connect_timeout)
        return await run_cutover(settings, options)

    result = run(main)
    result.print(console)
    if report is not None:
        for path in result.write(report):
            console.print(f"report written to {path}")
    raise typer.Exit(0 if result.succeeded else 1)
