"""`bandwise backup …`: create, list, verify, restore, prune, schedule (thin, over ops.backup).

Each command imports ops.backup when it runs: every `bandwise` invocation builds this group.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from bandwise.cli.context import command_settings, open_engine
from bandwise.cli.errors import fail, guarded, run
from bandwise.errors import InvalidInput
from bandwise.units import format_bytes

if TYPE_CHECKING:
    from bandwise.ops import backup as backups

app = typer.Typer(
    help="Backups proven restorable: create, verify, restore, retain.", no_args_is_help=True
)


def _age(moment: datetime, now: datetime) -> str:
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _state(manifest: backups.BackupManifest) -> str:
    return manifest.verify_outcome or "unverified"


@app.command()
def create(
    label: Annotated[
        str | None, typer.Option("--label", help="A note kept in the manifest")
    ] = None,
) -> None:
    """Back up the configured database into BACKUP_DIR (with a manifest)."""
    from bandwise.ops import backup as backups

    settings = command_settings()

    async def main() -> backups.BackupManifest:
        async with open_engine(settings) as engine:
            return await backups.create_backup(settings, engine, label=label)

    manifest = run(main)
    typer.echo(
        f"backup {manifest.id} created: {settings.backup_dir / manifest.file} "
        f"({format_bytes(manifest.size_bytes)}, {manifest.duration_seconds:.1f}s, "
        f"sha256 {manifest.sha256[:16]}…"
        f"{', encrypted' if manifest.encrypted else ''})"
    )


@app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifests as JSON")] = False,
) -> None:
    """List backups, newest first: id, age, size, verified state, label."""
    from bandwise.ops import backup as backups
    from bandwise.ops.backup.manifest import utcnow

    settings = command_settings()
    manifests = backups.list_backups(settings)
    if as_json:
        typer.echo(json.dumps([item.model_dump(mode="json") for item in manifests], indent=2))
        return
    if not manifests:
        typer.echo(f"no backups in {settings.backup_dir}")
        return
    now = utcnow()
    typer.echo(f"{'ID':<20} {'AGE':>5} {'SIZE':>10}  {'VERIFIED':<10} {'ENGINE':<10} LABEL")
    for item in manifests:
        typer.echo(
            f"{item.id:<20} {_age(item.created_at, now):>5} {format_bytes(item.size_bytes):>10}  "
            f"{_state(item):<10} {item.engine:<10} {item.label or ''}"
        )


@app.command()
def verify(
    backup_id: Annotated[
        str | None, typer.Argument(help="Backup to verify (omit with --all)")
    ] = None,
    all_backups: Annotated[bool, typer.Option("--all", help="Verify every backup")] = False,
    no_restore: Annotated[
        bool, typer.Option("--no-restore", help="Skip the scratch restore")
    ] = False,
) -> None:
    """Verify a backup (checksum, archive listing, scratch restore, counts); record the outcome."""
    from bandwise.ops import backup as backups

    settings = command_settings()
    if (backup_id is None) == (not all_backups):
        fail(InvalidInput("give a backup ID or --all (not both)", field="ID"))

    async def main() -> list[backups.BackupManifest]:
        async with open_engine(settings) as engine:
            if all_backups:
                return await backups.verify_all(settings, engine, scratch_restore=not no_restore)
            assert backup_id is not None
            return [
                await backups.verify_backup(
                    settings, engine, backup_id, scratch_restore=not no_restore
                )
            ]

    results = run(main)
    for item in results:
        typer.echo(f"{item.id}: {_state(item)} — {item.verify_detail}")
    if any(item.verify_outcome != "passed" for item in results):
        raise typer.Exit(1)


@app.command()
def restore(
    backup_id: Annotated[str, typer.Argument(metavar="ID", help="Backup to restore")],
    into: Annotated[
        str | None, typer.Option("--into", help="New database name (SQLite: file path)")
    ] = None,
    into_current: Annotated[
        bool, typer.Option("--into-current", help="Replace the current database")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm --into-current")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Restore an unverified or failing backup")
    ] = False,
) -> None:
    """Restore a verified backup into a new database (default) or over the current one."""
    from bandwise.ops import backup as backups

    settings = command_settings()
    if into_current and not yes:
        fail(
            InvalidInput(
                "--into-current replaces the live database (the previous one is kept "
                "aside); stop the bot and add --yes to confirm",
                field="yes",
            )
        )

    async def main() -> backups.RestoreResult:
        async with open_engine(settings) as engine:
            return await backups.restore_backup(
                settings, engine, backup_id, into=into, into_current=into_current, force=force
            )

    result = run(main)
    typer.echo(
        f"backup {result.backup_id} restored into {result.target} ({result.duration_seconds:.1f}s)"
    )
    if result.migrations_applied:
        typer.echo(
            f"schema migrated to {result.schema_revision} ({', '.join(result.migrations_applied)})"
        )
    if result.previous_kept_as:
        typer.echo(f"the previous database is kept as {result.previous_kept_as}")


@app.command()
def prune(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan, delete nothing")
    ] = False,
) -> None:
    """Apply grandfather-father-son retention (BACKUP_KEEP_DAILY/WEEKLY/MONTHLY)."""
    from bandwise.ops import backup as backups

    settings = command_settings()
    plan = guarded(lambda: backups.prune(settings, dry_run=dry_run))
    for manifest, reasons in plan.keep:
        typer.echo(f"keep    {manifest.id}  ({', '.join(reasons)})")
    verb = "would delete" if dry_run else "deleted"
    for manifest in plan.delete:
        typer.echo(f"{verb:<7} {manifest.id}")
    typer.echo(f"{len(plan.keep)} kept, {len(plan.delete)} {verb}")


@app.command()
def schedule() -> None:
    """Run create → verify → prune at each BACKUP_SCHEDULE time (foreground, for a service)."""
    from bandwise.ops import backup as backups

    settings = command_settings(service=True)

    async def main() -> list[backups.ScheduledRun]:
        async with open_engine(settings) as engine:
            return await backups.run_schedule(settings, engine)

    run(main)
