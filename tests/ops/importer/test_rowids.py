"""RowIdMap answers exactly as a dict would, for any ids and values a source holds."""

from __future__ import annotations

import pickle
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bandwise.ops.importer.rowids import RowIdMap

# SQLite hands back integers (any 64-bit value), and, from a table whose id is not a rowid,
# texts, reals or blobs; Python ints beyond 64 bits cannot come from SQLite but must not break.
IDS = st.one_of(
    st.integers(0, 200),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-(2**70), 2**70),
    st.text(max_size=4),
    st.floats(allow_nan=False),
    st.binary(max_size=3),
)
VALUES = st.one_of(st.integers(-(2**64), 2**64), st.text(max_size=3))


@given(st.dictionaries(IDS, VALUES), st.lists(IDS))
def test_a_row_id_map_gets_what_a_dict_gets(pairs: dict[Any, Any], probes: list[Any]) -> None:
    held = RowIdMap(reversed(list(pairs.items())))  # not in id order: sorted on the way in
    assert len(held) == len(pairs)
    assert dict(held.items()) == pairs
    for probe in [*pairs, *probes, None, True, 1.0, 2.5]:
        assert held.get(probe) == pairs.get(probe), probe
        assert held.get(probe, "none") == pairs.get(probe, "none"), probe


@given(st.lists(st.tuples(st.integers(0, 50), st.integers()), max_size=80))
def test_a_repeated_id_keeps_its_last_value_as_a_dict_does(pairs: list[tuple[int, int]]) -> None:
    held = RowIdMap(pairs)
    assert dict(held.items()) == dict(pairs)


def test_a_row_id_map_survives_the_trip_to_a_worker_process() -> None:
    repairs = RowIdMap([(9, 1), (4, 2), ("y", 3), (2**63 - 1, 2**70)])
    back = pickle.loads(pickle.dumps(repairs))  # noqa: S301 (our own bytes)
    assert dict(back.items()) == {4: 2, 9: 1, "y": 3, 2**63 - 1: 2**70}
    assert len(RowIdMap()) == 0
