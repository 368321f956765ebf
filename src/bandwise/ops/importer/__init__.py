"""Import a legacy SQLite database into PostgreSQL: atomic, verified, reported.

Stable entry points (the CLI and the cutover call these):

- :func:`import_sqlite` (source, target_url, settings, options) → :class:`ImportReport`
- :func:`verify_import` (source, target_url, settings) → :class:`ImportReport`

They are loaded when first used: the CLI opens the source and starts its integrity check
(:mod:`~bandwise.ops.importer.headstart`, light) before the importer's libraries load.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bandwise.errors import ImportFailed
    from bandwise.ops.importer.convert import BadRowPolicy
    from bandwise.ops.importer.report import ImportReport, TableFigures
    from bandwise.ops.importer.run import ImportOptions, import_sqlite, verify_import
    from bandwise.ops.importer.sources import check_source_tables

# Where each entry point lives (imported on first use).
_ENTRY_POINTS = {
    "ImportFailed": "bandwise.errors",
    "BadRowPolicy": "bandwise.ops.importer.convert",
    "ImportReport": "bandwise.ops.importer.report",
    "TableFigures": "bandwise.ops.importer.report",
    "ImportOptions": "bandwise.ops.importer.run",
    "import_sqlite": "bandwise.ops.importer.run",
    "verify_import": "bandwise.ops.importer.run",
    "check_source_tables": "bandwise.ops.importer.sources",
}

__all__ = [
    "BadRowPolicy",
    "ImportFailed",
    "ImportOptions",
    "ImportReport",
    "TableFigures",
    "check_source_tables",
    "import_sqlite",
    "verify_import",
]


def __getattr__(name: str) -> Any:
    """Load an entry point when it is first asked for."""
    if name not in _ENTRY_POINTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_ENTRY_POINTS[name]), name)
    globals()[name] = value
    return value
