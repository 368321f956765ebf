"""The /admin charts have labelled axes (value with its unit, time in UTC); tables have headers."""

from __future__ import annotations

from datetime import UTC, datetime

from bandwise.ops.monitoring.admin_page import chart
from bandwise.ops.monitoring.history import Sample

START = datetime(2026, 12, 1, 9, 5, tzinfo=UTC).timestamp()


def _sample(minute: int, latency: float) -> Sample:
    return Sample(START + 60 * minute, 2, 30, 5, 100, latency, 1)


def test_a_chart_names_its_unit_and_its_time_span() -> None:
    svg = chart(
        "Mean query latency",
        [_sample(0, 1.5), _sample(30, 4.0)],
        lambda s: s.mean_query_ms,
        unit="ms",
    )
    assert "Mean query latency: 4.0 ms" in svg
    assert ">ms</text>" in svg and ">4</text>" in svg and ">0</text>" in svg  # value axis
    assert ">09:05</text>" in svg and ">09:35</text>" in svg and "time (UTC)" in svg  # time axis
    assert svg.count("<line ") == 2  # both axes drawn


def test_an_empty_chart_still_has_axes() -> None:
    svg = chart("Pool in use", [], lambda s: s.pool_checked_out, unit="connections")
    assert "no data yet" in svg and svg.count("<line ") == 2 and "connections" in svg
