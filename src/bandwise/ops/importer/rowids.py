"""Re-attached rows held in two sorted arrays: 16 bytes a row, not a Python dict entry.

Before the load, the importer lists the rows whose user_id holds a user's Telegram id, with
the users.id each is re-attached to. A legacy file can hold hundreds of thousands (a bot that
wrote Telegram ids everywhere): in a dict each costs about 110 bytes (35 MB for 100,000 users
of the benchmark's careful_heavy shape, which took the import past its 200 MiB bound), here
16 in two ``array('q')``. A lookup bisects; it is asked only for rows already set apart
(orphans, careful rows), so the fast paths never pay it per row. An id or a value that is not
a 64-bit integer (a source whose ids are not SQLite rowids) is kept in a small dict.
"""

from __future__ import annotations

import math
import operator
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _as_int64(value: Any) -> int | None:
    """Return ``value`` as the 64-bit integer it equals (None if none): ``1.0 == True == 1``."""
    if type(value) is not int:
        if not isinstance(value, int | float) or not math.isfinite(value) or value % 1:
            return None
        value = int(value)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


def _sorted_by_key(keys: array[int], values: array[int]) -> None:
    """Sort ``keys`` in place (``values`` along), the last of equal keys kept, as a dict would.

    Nothing to do in the usual case: the queries return their ids in order, each once.
    """
    if all(map(operator.lt, keys, islice(keys, 1, None))):
        return
    last = {key: at for at, key in enumerate(keys)}  # rare: a key equal to another (1, 1.0)
    order = sorted(last.values(), key=keys.__getitem__)
    values[:] = array("q", (values[at] for at in order))
    keys[:] = array("q", (keys[at] for at in order))


def _find(keys: array[int], key: Any) -> int:
    """Return where ``key`` is in the sorted ``keys``, or -1."""
    at = bisect_left(keys, key)
    return at if at < len(keys) and keys[at] == key else -1


class RowIdMap:
    """An immutable map of row ids to integers (the users.id a row is re-attached to)."""

    __slots__ = ("_keys", "_others", "_values")

    def __init__(self, pairs: Iterable[tuple[Any, Any]] = ()) -> None:
        self._keys = array("q")
        self._values = array("q")
        self._others: dict[Any, Any] = {}
        for key, value in pairs:
            number = _as_int64(key)
            if number is not None and type(value) is int and _as_int64(value) is not None:
                self._keys.append(number)
                self._values.append(value)
                if self._others:
                    self._others.pop(number, None)  # a later pair for the same id wins
            else:
                self._others[key] = value
        _sorted_by_key(self._keys, self._values)
        for key in self._others:  # came after the same id's integer pair: the later one wins
            number = _as_int64(key)
            at = -1 if number is None else _find(self._keys, number)
            if at >= 0:
                del self._keys[at], self._values[at]

    def get(self, row_id: Any, default: Any = None) -> Any:
        """Return the value for ``row_id`` (``default`` when it has none)."""
        number = _as_int64(row_id)
        if number is not None:
            at = _find(self._keys, number)
            if at >= 0:
                return self._values[at]
        return self._others.get(row_id, default) if self._others else default

    def __len__(self) -> int:
        return len(self._keys) + len(self._others)

    def items(self) -> Iterator[tuple[Any, Any]]:
        """Yield (row id, value) pairs, integer ids in order first."""
        yield from zip(self._keys, self._values, strict=True)
        yield from self._others.items()


NO_REPAIRS = RowIdMap()
