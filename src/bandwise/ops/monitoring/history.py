"""An in-memory ring buffer of the last hour's samples, for the operator's page charts."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

WINDOW_SECONDS = 3600.0


@dataclass(frozen=True)
class Sample:
    """One point of every chart, taken by the statistics collector."""

    at: float
    pool_checked_out: int
    pool_capacity: int
    connections: int
    max_connections: int
    mean_query_ms: float
    submissions: int


class History:
    """Keep the samples of the last ``window`` seconds (older ones fall off)."""

    def __init__(self, window: float = WINDOW_SECONDS, max_samples: int = 3600) -> None:
        self._window = window
        self._samples: deque[Sample] = deque(maxlen=max_samples)

    def add(self, sample: Sample) -> None:
        """Append ``sample`` and drop samples older than the window."""
        self._samples.append(sample)
        while self._samples and sample.at - self._samples[0].at > self._window:
            self._samples.popleft()

    def samples(self) -> list[Sample]:
        """Return the samples, oldest first."""
        return list(self._samples)
