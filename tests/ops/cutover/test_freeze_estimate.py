"""The rehearsal's freeze estimate: the measured rates applied to the live file's size."""

from __future__ import annotations

import pytest

from bandwise.ops.cutover.estimate import RehearsalMeasure, estimate_freeze


def _measure(**changes: float) -> RehearsalMeasure:
    values: dict[str, float] = {
        "copy_seconds": 2.0,
        "copied_bytes": 200_000_000,
        "import_seconds": 10.0,
        "imported_rows": 400_000,
        "smoke_seconds": 1.5,
        "live_bytes": 200_000_000,
        "live_rows": 400_000,
    }
    values.update(changes)
    return RehearsalMeasure(**values)  # type: ignore[arg-type]


def test_an_unchanged_file_takes_what_the_rehearsal_took() -> None:
    phases = {phase.name: phase for phase in estimate_freeze(_measure())}
    assert list(phases) == ["frozen_copy", "import", "smoke_test", "restart_and_unfreeze"]
    assert phases["frozen_copy"].seconds == pytest.approx(2.0)
    assert phases["import"].seconds == pytest.approx(10.0)
    assert phases["smoke_test"].seconds == pytest.approx(1.5)
    assert "40,000 rows/s" in phases["import"].basis
    assert "restart time" in phases["restart_and_unfreeze"].basis


def test_a_file_grown_since_the_rehearsal_scales_the_copy_and_the_import() -> None:
    phases = {
        phase.name: phase
        for phase in estimate_freeze(_measure(live_rows=600_000, live_bytes=300_000_000))
    }
    assert phases["frozen_copy"].seconds == pytest.approx(3.0)
    assert phases["import"].seconds == pytest.approx(15.0)
    assert "600000 rows" in phases["import"].basis


def test_a_zero_duration_falls_back_to_the_measured_seconds() -> None:
    measure = _measure(import_seconds=0.0, copy_seconds=0.0)
    assert measure.rows_per_second == 0.0
    phases = {phase.name: phase.seconds for phase in estimate_freeze(measure)}
    assert phases["import"] == 0.0 and phases["frozen_copy"] == 0.0
