"""A PNG chart of a candidate's overall and criteria bands over time (matplotlib, Agg)."""

from __future__ import annotations

import io

from bandwise.assessment.types import CRITERION_TITLES
from bandwise.repositories.assessments import BandSeriesPoint


def render_band_chart(series: list[BandSeriesPoint]) -> bytes:
    """Return a PNG of the overall band (bold) and the four criteria over time."""
    if len(series) < 2:
        raise ValueError("a chart needs at least two assessments")
    # Imported here: matplotlib is slow to import and only the history screen needs it.
    # A Figure without pyplot uses the Agg canvas and keeps no global state, so charts can
    # render concurrently in worker threads.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4.5), dpi=100)
    axes = figure.add_subplot()
    positions = list(range(1, len(series) + 1))
    for name, title in CRITERION_TITLES.items():
        axes.plot(
            positions,
            [float(getattr(point, name)) for point in series],
            marker="o",
            linewidth=1,
            alpha=0.7,
            label=title,
        )
    axes.plot(
        positions,
        [float(point.overall) for point in series],
        marker="o",
        linewidth=3,
        color="black",
        label="Overall band",
    )
    axes.set_xticks(
        positions, [f"{point.assessed_at:%d %b}" for point in series], rotation=45, fontsize=8
    )
    axes.set_ylim(0, 9.5)
    axes.set_yticks([step / 2 for step in range(0, 19, 2)])
    axes.set_ylabel("Band")
    axes.set_title("IELTS Writing bands over time")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
