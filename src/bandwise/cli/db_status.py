"""`bandwise db status [--json]`: the database's health at a glance.

The commands import the monitoring library and rich when they run: every `bandwise` invocation
builds the `db` group.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bandwise.cli.context import command_settings, open_engine
from bandwise.cli.errors import run
from bandwise.units import format_bytes
from bandwise.wording import plural

if TYPE_CHECKING:
    from rich.table import Table

    from bandwise.ops.monitoring.status import DatabaseStatus

UrlOption = Annotated[str | None, typer.Option("--url", help="Database URL (default: configured)")]


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def render_table(status: DatabaseStatus) -> Table:
    """Return the terminal table of ``status``."""
    from rich.table import Table

    table = Table(title="bandwise database status", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("engine", f"{status.engine} {status.server_version or ''}".strip())
    table.add_row("target", status.target)
    table.add_row("database", status.availability_text())
    table.add_row("schema", status.schema_text())
    pool = status.pool
    table.add_row(
        "pool",
        f"size {pool.size} + overflow {pool.max_overflow}, timeout {pool.timeout_seconds:g} s",
    )
    if status.max_connections:
        states = ", ".join(f"{name} {count}" for name, count in sorted(status.connections.items()))
        total = sum(status.connections.values())
        table.add_row("connections", f"{total} of {status.max_connections} ({states})")
    table.add_row("size", format_bytes(status.size_bytes) if status.up else "unknown")
    for name, amount, unit in status.biggest_tables:
        shown = format_bytes(amount) if unit == "bytes" else plural(amount, "row")
        table.add_row(f"table {name}", shown)
    backup = status.last_backup
    table.add_row(
        "last backup",
        "none"
        if backup is None
        else f"{backup.backup_id} at {_when(backup.created_at)}, "
        f"{format_bytes(backup.size_bytes)}, verify {backup.verify_outcome or 'pending'}",
    )
    alerts = "; ".join(f"{a.name}: {a.detail}" for a in status.firing_alerts) or "none"
    table.add_row("firing alerts", alerts)
    return table


def register(db_app: typer.Typer) -> None:
    """Add the ``status`` and ``alert-rules`` commands to the ``db`` command group."""

    @db_app.command("alert-rules")
    def alert_rules(
        output: Annotated[
            Path | None,
            typer.Option(
                "--output",
                "-o",
                help="File to write, or - for standard output (default: the repository's rules)",
                show_default=False,
            ),
        ] = None,
        check: Annotated[
            bool, typer.Option("--check", help="Write nothing; exit 1 when the file is out of date")
        ] = False,
    ) -> None:
        """Generate the Prometheus alert rules (deploy/prometheus/alerts.yml) from the built-in."""
        from bandwise.ops.monitoring.prometheus_rules import (
            ALERT_RULES_FILE,
            render_alert_rules,
            write_alert_rules,
        )

        output = output or ALERT_RULES_FILE
        if str(output) == "-":
            typer.echo(render_alert_rules(), nl=False)
            return
        if check:
            current = output.read_text(encoding="utf-8") if output.is_file() else ""
            if current != render_alert_rules():
                typer.echo(f"{output} is out of date: run `bandwise db alert-rules`", err=True)
                raise typer.Exit(1)
            typer.echo(f"{output} is up to date")
            return
        changed = write_alert_rules(output)
        typer.echo(f"{'wrote' if changed else 'unchanged:'} {output}")

    @db_app.command()
    def status(
        url: UrlOption = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print JSON instead of a table")
        ] = False,
    ) -> None:
        """Show engine, version, schema, pool, connections, size, tables, backup and alerts."""
        from rich.console import Console

        from bandwise.db.readiness import ping
        from bandwise.ops.monitoring.status import collect_status

        settings = command_settings()

        async def main() -> DatabaseStatus:
            async with open_engine(settings, url) as engine:
                if not as_json:  # a database that is down: its cause in three lines, no table
                    await ping(engine, settings.db_connect_timeout)
                return await collect_status(engine, settings)

        result = run(main)
        if as_json:
            typer.echo(json.dumps(result.as_dict(), indent=2))
        else:
            Console(width=110).print(render_table(result))
        if not result.up:
            raise typer.Exit(3)
