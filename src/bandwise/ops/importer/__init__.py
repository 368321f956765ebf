"""Import a legacy SQLite database into PostgreSQL: atomic, verified, reported.

Stable entry points (the CLI and the cutover call these):

- :func:`import_sqlite` (source, target_url, settings, options) → :class:`ImportReport`
- :func:`verify_import` (source, target_url, settings) → :class:`ImportReport`
"""

from bandwise.errors import ImportFailed
from bandwise.ops.importer.convert import BadRowPolicy
from bandwise.ops.importer.report import ImportReport, TableFigures
from bandwise.ops.importer.run import ImportOptions, import_sqlite, verify_import
from bandwise.ops.importer.sources import check_source_tables

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
