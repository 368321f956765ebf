"""Every `bandwise …` invocation in the README, docs and deploy scripts names a command that
exists, with options it has."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main

from bandwise.cli.main import app
from testkit.deploy import PROJECT_ROOT

DOCUMENTS = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
SCRIPTS = sorted((PROJECT_ROOT / "deploy").rglob("*.sh"))

CODE = re.compile(r"```[^\n]*\n(.*?)```|`([^`\n]+)`", re.S)
INVOCATION = re.compile(r"(?<![\w.-])bandwise((?:[ \t]+[a-z][a-z0-9-]*)+)(?=[\s`'\");]|$)")
# In the scripts every call runs in a compose service: `… bot bandwise db upgrade`.
SCRIPT_INVOCATION = re.compile(
    r"\b(?:bot|backup)[ \t]+bandwise((?:[ \t]+[a-z][a-z0-9-]*)+)"
    r"(?=[\s'\");]|$)"
)


OPTION = re.compile(r"(?<!\S)--[a-z][a-z0-9-]*")


def words_of(text: str, match: re.Match[str]) -> tuple[str, ...]:
    """Return the command words of ``match`` followed by the options on the rest of its line."""
    rest = text[match.end() :].split("\n", 1)[0]
    rest = re.split(r"[|;&)#]", rest, maxsplit=1)[0]
    return (*match.group(1).split(), *OPTION.findall(rest))


def invocations(path: Path) -> list[tuple[str, ...]]:
    """Return the words following `bandwise` in every code span and block of ``path``."""
    found: list[tuple[str, ...]] = []
    for match in CODE.finditer(path.read_text(encoding="utf-8")):
        code = match.group(1) or match.group(2) or ""
        for invocation in INVOCATION.finditer(code):
            found.append(words_of(code, invocation))
    return found


def script_invocations(path: Path) -> list[tuple[str, ...]]:
    """Return the words following `bandwise` anywhere in a shell script."""
    text = path.read_text(encoding="utf-8")
    return [words_of(text, match) for match in SCRIPT_INVOCATION.finditer(text)]


def resolve(words: tuple[str, ...]) -> tuple[tuple[str, ...], str | None]:
    """Walk the CLI along ``words``; return the command path and an error, if any."""
    # Typer bundles its own click: look for subcommands by duck typing, not isinstance.
    command: Any = typer.main.get_command(app)
    path: list[str] = []
    options = [word for word in words if word.startswith("--")]
    for word in (word for word in words if not word.startswith("--")):
        subcommands = getattr(command, "commands", None)
        if subcommands is None:
            break  # a leaf command: the remaining words are its arguments
        sub = subcommands.get(word)
        if sub is None:
            return (*path, word), f"`bandwise {' '.join([*path, word])}` does not exist"
        command = sub
        path.append(word)
    if getattr(command, "commands", None) is None:
        known = {"--help"} | {
            opt for param in command.params for opt in [*param.opts, *param.secondary_opts]
        }
        unknown = [option for option in options if option not in known]
        if unknown:
            return tuple(path), f"`bandwise {' '.join(path)}` has no option {', '.join(unknown)}"
    return tuple(path), None


CASES = sorted(
    {
        (path.relative_to(PROJECT_ROOT).as_posix(), words)
        for path in DOCUMENTS
        for words in invocations(path)
    }
    | {
        (path.relative_to(PROJECT_ROOT).as_posix(), words)
        for path in SCRIPTS
        for words in script_invocations(path)
    }
)


def test_documents_are_scanned() -> None:
    assert any(words[:2] == ("config", "check") for _, words in CASES)
    assert invocations(PROJECT_ROOT / "README.md")
    assert any(
        document == "deploy/fast-update.sh" and words[:2] == ("db", "upgrade")
        for document, words in CASES
    )


def test_extraction_skips_prose_and_other_names(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text(
        "bandwise serve in prose\n`psql -U bandwise -d bandwise`\n"
        "```\ndocker tag bandwise:previous bandwise:latest\n"
        "docker compose exec bot bandwise db current\n.venv/bin/bandwise serve\n```\n",
        encoding="utf-8",
    )
    assert invocations(doc) == [("db", "current"), ("serve",)]
    doc.write_text(
        "`bandwise config check --env-file .env  # a --comment`\n"
        "```\nbandwise db wait --timeout 5 | tee --append x\n```\n",
        encoding="utf-8",
    )
    assert invocations(doc) == [("config", "check", "--env-file"), ("db", "wait", "--timeout")]


def test_resolution_against_the_real_cli() -> None:
    assert resolve(("db", "upgrade", "head")) == (("db", "upgrade"), None)
    assert resolve(("config",)) == (("config",), None)
    assert resolve(("db", "nonsense"))[1] == "`bandwise db nonsense` does not exist"
    assert resolve(("nonsense",))[1] == "`bandwise nonsense` does not exist"
    assert resolve(("db", "wait", "--timeout")) == (("db", "wait"), None)
    assert resolve(("db", "wait", "--nope"))[1] == "`bandwise db wait` has no option --nope"


@pytest.mark.parametrize(
    ("document", "words"), CASES, ids=lambda v: " ".join(v) if isinstance(v, tuple) else v
)
def test_documented_command_exists(document: str, words: tuple[str, ...]) -> None:
    _, error = resolve(words)
    if error is None:
        return
    pytest.fail(f"{document}: {error}")


LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
LINKS = sorted(
    {
        (path.relative_to(PROJECT_ROOT).as_posix(), target)
        for path in DOCUMENTS
        for target in LINK.findall(path.read_text(encoding="utf-8"))
        if "://" not in target
    }
)


def test_readme_keeps_the_two_commands() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(r"(?m)^make run\b", readme) and re.search(r"(?m)^make test\b", readme)


@pytest.mark.parametrize(("document", "target"), LINKS, ids=lambda v: v)
def test_relative_links_resolve(document: str, target: str) -> None:
    resolved = (PROJECT_ROOT / document).parent / target
    if resolved.exists():
        return
    pytest.fail(f"{document} links to {target}, which does not exist")
