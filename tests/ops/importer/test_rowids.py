"""RowIds and RowIdMap answer exactly as a set and a dict would, for any ids a source holds."""

from __future__ import annotations

import pickle
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bandwise.ops.importer.rowids import RowIdMap, RowIds

# SQLite hands back integers (any 64-bit value), and, from a table whose id is not a rowid,
# texts, reals or blobs; Python ints beyond 64 bits cannot come from SQLite but must not break.
IDS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-(2**70), 2**70),
    st.text(max_size=4),
    st.floats(allow_nan=False),
    st.binary(max_size=3),
)


@given(st.lists(IDS, unique=True), st.lists(IDS))
def test_row_ids_contain_what_a_set_contains(ids: list[Any], probes: list[Any]) -> None:
    held = RowIds(ids)
    expected = set(ids)
    assert len(held) == len(expected)
    assert set(held) == expected
    for probe in [*ids, *probes, None, True, 1.0]:
        assert (probe in held) == (probe in expected), probe


@given(
    st.dictionaries(IDS, st.one_of(st.integers(-(2**64), 2**64), st.text(max_size=3))),
    st.lists(IDS),
)
def test_row_id_map_gets_what_a_dict_gets(pairs: dict[Any, Any], probes: list[Any]) -> None:
    held = RowIdMap(reversed(list(pairs.items())))  # not in id order: sorted on the way in
    assert len(held) == len(pairs)
    assert dict(held.items()) == pairs
    for probe in [*pairs, *probes, None]:
        assert held.get(probe) == pairs.get(probe), probe
        assert held.get(probe, "none") == pairs.get(probe, "none"), probe


def test_row_ids_survive_the_trip_to_a_worker_process() -> None:
    ids = RowIds([5, 3, "x", 2**63 - 1])
    repairs = RowIdMap([(9, 1), (4, 2), ("y", 3)])
    ids_back, repairs_back = pickle.loads(pickle.dumps((ids, repairs)))  # noqa: S301 (our own bytes)
    assert set(ids_back) == {3, 5, "x", 2**63 - 1}
    assert dict(repairs_back.items()) == {4: 2, 9: 1, "y": 3}
    assert not RowIds() and len(RowIdMap()) == 0
