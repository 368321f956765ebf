"""The fast path and the careful path of conversion give identical rows and checksums."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bandwise.ops.importer.canonical import jsonb_text, row_digest, row_digester
from bandwise.ops.importer.convert import Converter
from bandwise.ops.importer.fast import _ENCODE_STRINGS, NeedsCareful, row_converter
from bandwise.ops.importer.report import ImportReport
from bandwise.ops.importer.snapshot import take_snapshot
from bandwise.ops.importer.tables import TABLES
from bandwise.ops.importer.values import ReplacedText
from testkit.legacy import (
    conversion_legacy_data,
    set_raw_text,
    write_generated_legacy_file,
    write_legacy_file,
)


def _compare(path: Path, tmp_path: Path) -> tuple[int, int]:
    snapshot = take_snapshot(path, tmp_path)
    converter = Converter(ImportReport("s", "t", "verify"), policy="quarantine", strict=False)
    fast_rows = careful_rows = 0
    for name, spec in TABLES.items():
        columns = snapshot.source_columns(spec)
        if not columns:  # not in this file (a legacy file has no payments)
            continue
        fast = row_converter(spec, columns, set(), None)
        digest = row_digester(spec.kinds)
        digest_not_null = row_digester(spec.kinds, spec.nullable)
        for batch in snapshot.batches(name, columns):
            for raw in batch:
                careful = converter.convert_row(spec, columns, raw, account=False)
                try:
                    row = fast(raw)
                except (NeedsCareful, ValueError, TypeError, KeyError, ArithmeticError):
                    careful_rows += 1
                    continue
                fast_rows += 1
                assert row == careful, (name, raw)
                assert digest(row) == digest_not_null(row) == row_digest(spec.kinds, row)
    return fast_rows, careful_rows


def test_paths_agree_on_canonical_rows(tmp_path: Path) -> None:
    source = tmp_path / "generated.db"
    write_generated_legacy_file(source, 40)
    fast, careful = _compare(source, tmp_path)
    assert fast > 500 and careful == 0  # the bot's own spellings all take the fast path


def test_odd_spellings_take_the_careful_path(tmp_path: Path) -> None:
    source = write_legacy_file(tmp_path / "quirky.db", conversion_legacy_data())
    fast, careful = _compare(source, tmp_path)
    assert careful >= 10 and fast >= 1


def test_invalid_utf8_mid_table_is_read_once_and_repaired(tmp_path: Path) -> None:
    path = tmp_path / "legacy.db"
    write_generated_legacy_file(path, 40, essay_words=(3, 5), feedback_chars=30)
    set_raw_text(path, "users", 17, "first_name", b"Na\xffme")
    snapshot = take_snapshot(path, tmp_path)
    columns = snapshot.source_columns(TABLES["users"])

    rows = [row for batch in snapshot.batches("users", columns, batch_rows=3) for row in batch]

    assert [row[0] for row in rows] == list(range(1, 41))  # each row once, in order
    repaired = rows[16][columns.index("first_name")]
    assert type(repaired) is ReplacedText and repaired == "Na\ufffdme"


@given(st.lists(st.text()))
def test_string_lists_are_written_as_jsonb_text_writes_them(items: list[str]) -> None:
    # The fast path's C encoder must agree with jsonb_text (and so with PostgreSQL).
    assert _ENCODE_STRINGS(items) == jsonb_text(items)
