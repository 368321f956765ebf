"""The write freeze a cutover will need, estimated from what its rehearsal measured.

A rehearsal runs the frozen copy, the import and the smoke test on a copy of the live file;
the real freeze adds waiting for requests in flight, the env switch and the restart, which a
rehearsal cannot measure. The import dominates and grows with the file: its rate (rows per
second) is applied to the live file's row count at the end of the rehearsal, and the copy's
rate (bytes per second) to the live file's size, so a file that kept growing since the
rehearsal's copy is accounted for.
"""

from __future__ import annotations

from dataclasses import dataclass

from bandwise.wording import plural


@dataclass(frozen=True)
class FreezePhase:
    """One phase of the real write freeze: its expected seconds and what they rest on."""

    name: str
    seconds: float
    basis: str


@dataclass(frozen=True)
class RehearsalMeasure:
    """What the rehearsal measured, and the size of the live file it applies to."""

    copy_seconds: float
    copied_bytes: int
    import_seconds: float
    imported_rows: int
    smoke_seconds: float
    live_bytes: int
    live_rows: int

    @property
    def rows_per_second(self) -> float:
        """Return the rehearsal's import rate (source rows per second, verification included)."""
        return self.imported_rows / self.import_seconds if self.import_seconds > 0 else 0.0


def estimate_freeze(measure: RehearsalMeasure) -> list[FreezePhase]:
    """Return the phases of the real write freeze, each estimated from the rehearsal."""
    copy_rate = measure.copied_bytes / measure.copy_seconds if measure.copy_seconds > 0 else 0.0
    copy_seconds = measure.live_bytes / copy_rate if copy_rate > 0 else measure.copy_seconds
    rate = measure.rows_per_second
    import_seconds = measure.live_rows / rate if rate > 0 else measure.import_seconds
    return [
        FreezePhase(
            "frozen_copy",
            copy_seconds,
            f"{measure.live_bytes / 1e6:.1f} MB at the rehearsal's {copy_rate / 1e6:.1f} MB/s",
        ),
        FreezePhase(
            "import",
            import_seconds,
            f"{plural(measure.live_rows, 'row')} of the live file at the rehearsal's "
            f"{rate:,.0f} rows/s, verification included",
        ),
        FreezePhase("smoke_test", measure.smoke_seconds, "as measured by the rehearsal"),
        FreezePhase(
            "restart_and_unfreeze",
            0.0,
            "not measured by a rehearsal: add the service's restart time",
        ),
    ]
