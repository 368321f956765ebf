"""Show an import report: a rich table on a terminal, plain lines otherwise, JSON on disk."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bandwise.ops.importer.report import ImportReport
from bandwise.ops.private_files import open_private_text
from bandwise.wording import plural

if TYPE_CHECKING:
    from rich.console import Console

# Listed rows per piece of text handed to the file: bounds the memory of a 100,000-row report.
JSON_CHUNK_ROWS = 2000


def write_json(report: ImportReport, path: Path) -> None:
    """Write the report as JSON to ``path`` (top-level ``"verified"``), owner-only (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open_private_text(path) as handle:
        for piece in json_pieces(report):
            handle.write(piece)


def json_pieces(report: ImportReport) -> Iterator[str]:
    """Yield the JSON text of the report piece by piece (``report.to_dict()``'s document).

    Indented two spaces, except that each listed row (a transformation, bad value, quarantined
    row or check) is one line, encoded by the C encoder: ``json.dump(indent=2)`` runs the pure
    Python encoder and ``dataclasses.asdict`` deep-copies, about 10 µs a row between them.
    """
    yield "{"
    separator = "\n"
    for key, value in report.to_dict(shallow=True).items():
        yield f"{separator}  {json.dumps(key)}: "
        separator = ",\n"
        if value and isinstance(value, list) and _is_row(value[0]):
            yield from _listed_rows(value)
        else:  # small: a JSON string holds no raw newline, so re-indenting by lines is safe
            yield json.dumps(value, indent=2, default=_plain).replace("\n", "\n  ")
    yield "\n}\n"


def _listed_rows(rows: list[Any]) -> Iterator[str]:
    encode = json.JSONEncoder(default=_plain).encode
    names = [item.name for item in dataclasses.fields(rows[0])]  # a list holds one row type
    yield "["
    for start in range(0, len(rows), JSON_CHUNK_ROWS):
        lines = ",\n    ".join(
            # Shallow, unlike asdict: the encoder walks the nested values itself.
            encode({name: getattr(row, name) for name in names})
            for row in rows[start : start + JSON_CHUNK_ROWS]
        )
        yield f"{',' if start else ''}\n    {lines}"
    yield "\n  ]"


def _is_row(value: object) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def _plain(value: Any) -> Any:
    """Return a dataclass as a dict; anything else the encoder does not know as its text."""
    if _is_row(value):
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
    from rich.table import Table  # only on a terminal

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
