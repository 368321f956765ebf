"""`bandwise config …`: the generated configuration reference and validation of env files.

The commands import config_docs (pydantic, the Settings class) when they run: every `bandwise`
invocation builds this group.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bandwise.cli.errors import guarded

if TYPE_CHECKING:
    from bandwise.config_docs import ConfigCheckReport

app = typer.Typer(help="Configuration: reference document and validation.", no_args_is_help=True)


@app.command()
def docs(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="File to write, or - for standard output (default: the repository's reference)",
            show_default=False,
        ),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 when the file is out of date")
    ] = False,
) -> None:
    """Generate the configuration reference (docs/configuration.md) from the Settings class."""
    from bandwise.config_docs import (
        CONFIGURATION_DOC,
        render_configuration_doc,
        write_configuration_doc,
    )

    output = output or CONFIGURATION_DOC
    if str(output) == "-":
        typer.echo(render_configuration_doc(), nl=False)
        return
    if check:
        current = output.read_text(encoding="utf-8") if output.is_file() else ""
        if current != render_configuration_doc():
            typer.echo(f"{output} is out of date: run `bandwise config docs`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{output} is up to date")
        return
    changed = write_configuration_doc(output)
    typer.echo(f"{'wrote' if changed else 'unchanged:'} {output}")


def _render_report(report: ConfigCheckReport) -> None:
    source = f"env file {report.env_file} and the environment" if report.env_file else "environment"
    typer.echo(f"configuration is valid ({source})")
    typer.echo(f"engine: {report.engine}  database: {report.database_url}")
    width = max(len(item.variable) for item in report.settings)
    for item in report.settings:
        typer.echo(f"  {item.variable:<{width}}  {item.value}  [{item.source}]")
    for variable in report.overridden_by_environment:
        typer.echo(f"note: {variable} in the env file is overridden by the environment", err=True)


@app.command()
def check(
    env_file: Annotated[
        Path | None, typer.Option("--env-file", help="Env file to validate (with the environment)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a list")] = False,
) -> None:
    """Validate the configuration and print every resolved value (secrets masked); exit 2 if bad."""
    from bandwise.config_docs import check_configuration

    report = guarded(lambda: check_configuration(env_file))
    if as_json:
        payload = asdict(report)
        payload["env_file"] = str(report.env_file) if report.env_file else None
        typer.echo(json.dumps(payload, indent=2))
        return
    _render_report(report)
