"""Start-up imports only what the command runs: the command tree is built from light modules."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

# What the `import-sqlite` / `verify-import` path never uses: other groups' libraries.
NOT_FOR_THE_IMPORT = (
    "httpx",
    "aiogram",
    "openai",
    "fastapi",
    "matplotlib",
    "redis",
    "bandwise.api",
    "bandwise.bot",
    "bandwise.ops.backup",
    "bandwise.ops.cutover",
    "bandwise.ops.monitoring",
    "bandwise.config_docs",
)


def _imported_after(code: str) -> set[str]:
    """Return the modules a fresh interpreter holds after running ``code``."""
    script = textwrap.dedent(code) + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def _matching(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_building_the_commands_imports_no_library() -> None:
    modules = _imported_after(
        """
        import typer.main
        from bandwise.cli.main import app
        typer.main.get_command(app)
        """
    )
    heavy = ("sqlalchemy", "alembic", "pydantic", "asyncpg", "rich", *NOT_FOR_THE_IMPORT)
    assert _matching(modules, heavy) == []


def test_import_sqlite_imports_only_what_the_import_uses() -> None:
    modules = _imported_after(
        """
        from typer.testing import CliRunner
        from bandwise.cli.main import app
        result = CliRunner().invoke(
            app, ["db", "import-sqlite", "/nonexistent/legacy.db", "--target", "postgresql://u@h/d"]
        )
        assert "no such file" in result.output, result.output
        """
    )
    assert "bandwise.ops.importer.run" in modules  # the command did run
    assert _matching(modules, NOT_FOR_THE_IMPORT) == []
