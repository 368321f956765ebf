"""`bandwise db …`: readiness, migrations, drift check.

Each command imports the library it drives when it runs: every `bandwise` invocation (even
`--help`) builds the whole command tree, so this module imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bandwise.cli import importer as importer_commands
from bandwise.cli.context import command_settings, open_engine
from bandwise.cli.cutover import cutover as cutover_command
from bandwise.cli.errors import run
from bandwise.errors import MigrationError
from bandwise.wording import plural

if TYPE_CHECKING:
    from bandwise.db.migrate import MigrationResult

app = typer.Typer(help="Database: wait, migrate, inspect.", no_args_is_help=True)
importer_commands.register(app)  # import-sqlite, verify-import

UrlOption = Annotated[str | None, typer.Option("--url", help="Database URL (default: configured)")]


@app.command()
def wait(
    url: UrlOption = None,
    timeout: Annotated[
        float | None, typer.Option(help="Seconds (default DB_STARTUP_TIMEOUT)")
    ] = None,
) -> None:
    """Wait until the database accepts connections (exponential backoff, bounded)."""
    from bandwise.db.readiness import wait_for_database

    settings = command_settings()

    async def main() -> int:
        async with open_engine(settings, url) as engine:
            return await wait_for_database(
                engine, timeout if timeout is not None else settings.db_startup_timeout
            )

    attempts = run(main)
    typer.echo(f"database ready (after {plural(attempts, 'attempt')})")


@app.command()
def upgrade(
    revision: Annotated[str, typer.Argument()] = "head",
    url: UrlOption = None,
    quarantine_orphans: Annotated[
        bool,
        typer.Option(
            "--quarantine-orphans",
            help="Adopting a legacy file: move rows whose user or submission is gone into "
            "import_quarantine (default: refuse, naming them, and change nothing)",
        ),
    ] = False,
) -> None:
    """Apply migrations up to REVISION (default head); adopts a legacy database in place."""
    from bandwise.db import migrate

    settings = command_settings()

    async def main() -> MigrationResult:
        async with open_engine(settings, url) as engine:
            return await migrate.upgrade(
                engine, revision, orphans="quarantine" if quarantine_orphans else "refuse"
            )

    result = run(main)
    if result.adopted_legacy:
        typer.echo("adopted a legacy bandwise database")
    if result.changed:
        typer.echo(
            f"upgraded {result.before or 'base'} → {result.after} ({', '.join(result.applied)})"
        )
    else:
        typer.echo(f"already at {result.after or 'base'}; nothing to do")


@app.command()
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, or base")], url: UrlOption = None
) -> None:
    """Revert migrations down to REVISION (``base`` removes every bandwise table)."""
    from bandwise.db import migrate

    settings = command_settings()

    async def main() -> MigrationResult:
        async with open_engine(settings, url) as engine:
            return await migrate.downgrade(engine, revision)

    result = run(main)
    typer.echo(f"downgraded {result.before or 'base'} → {result.after or 'base'}")


@app.command()
def current(url: UrlOption = None) -> None:
    """Print the database's schema revision and whether it is the code's head."""
    from bandwise.db import migrate

    settings = command_settings()

    async def main() -> str | None:
        async with open_engine(settings, url) as engine:
            return await migrate.current_revision(engine)

    revision = run(main)
    head = migrate.head_revision()
    state = "head" if revision == head else f"code expects {head}"
    typer.echo(f"{revision or 'base'} ({state})")


@app.command()
def history() -> None:
    """List every schema revision, oldest first."""
    from bandwise.db import migrate

    for revision, down, message in migrate.history():
        typer.echo(f"{down or 'base'} → {revision}  {message}")


@app.command()
def check(url: UrlOption = None) -> None:
    """Fail when the models and the migrated database schema differ (drift)."""
    from bandwise.db import migrate

    settings = command_settings()

    async def main() -> list[object]:
        async with open_engine(settings, url) as engine:
            current_revision = await migrate.current_revision(engine)
            if current_revision != migrate.head_revision():
                raise MigrationError(
                    f"database is at {current_revision or 'base'}, not head "
                    f"{migrate.head_revision()}: run `bandwise db upgrade` first"
                )
            return await migrate.schema_drift(engine)

    drift = run(main)
    if drift:
        for item in drift:
            typer.echo(f"drift: {item}", err=True)
        raise typer.Exit(1)
    typer.echo("models and migrations agree")


app.command("cutover")(cutover_command)
