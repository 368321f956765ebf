"""Render the operator's page: status tables, inline SVG charts of the last hour, alerts, backups.

Plain server-side HTML with no scripts and no external assets; every value is escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from html import escape

from bandwise.ops.monitoring.backups import BackupRecord
from bandwise.ops.monitoring.history import Sample
from bandwise.ops.monitoring.outbox import Delivery
from bandwise.ops.monitoring.status import DatabaseStatus
from bandwise.units import format_bytes

CHART_WIDTH = 290
DELIVERY_CLASS = {"delivered": "ok", "not sent": "muted"}
NONE_ROW = "<tr><td>none</td></tr>"
CHART_HEIGHT = 110
STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1d2430;background:#f6f7f9}
h1{font-size:1.4rem;margin:0 0 1rem} h2{font-size:1.05rem;margin:1.2rem 0 .4rem}
.grid{display:flex;flex-wrap:wrap;gap:1rem} .card{background:#fff;border:1px solid #dde1e6;
border-radius:6px;padding:.7rem 1rem} table{border-collapse:collapse;font-size:.9rem}
td,th{padding:.2rem .7rem;text-align:left;border-bottom:1px solid #eef0f3}
.ok{color:#177245} .bad{color:#b3261e;font-weight:600} svg{display:block}
.muted{color:#6b7280;font-size:.85rem}
"""


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "—"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def chart(
    title: str,
    samples: Sequence[Sample],
    value: Callable[[Sample], float],
    limit: Callable[[Sample], float] | None = None,
    unit: str = "",
) -> str:
    """Return an inline SVG line chart of ``value`` over the samples (dashed ``limit`` line)."""
    points = [(sample.at, value(sample)) for sample in samples]
    values = [amount for _, amount in points]
    if limit is not None:
        values += [limit(sample) for sample in samples]
    ceiling = max(values, default=0.0) or 1.0
    span_start = points[0][0] if points else 0.0
    span = max((points[-1][0] - span_start) if points else 0.0, 1.0)

    def xy(at: float, amount: float) -> str:
        x = 30 + (at - span_start) / span * (CHART_WIDTH - 40)
        y = CHART_HEIGHT - 15 - amount / ceiling * (CHART_HEIGHT - 30)
        return f"{x:.1f},{y:.1f}"

    line = " ".join(xy(at, amount) for at, amount in points)
    latest = f"{points[-1][1]:.1f}{unit}" if points else "no data yet"
    parts = [
        f'<svg role="img" aria-label="{escape(title)}" width="{CHART_WIDTH}" '
        f'height="{CHART_HEIGHT}" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}">',
        f'<text x="4" y="12" font-size="11">{escape(title)}: {escape(latest)}</text>',
        f'<text x="4" y="{CHART_HEIGHT - 18}" font-size="9" fill="#6b7280">0</text>',
        f'<text x="4" y="28" font-size="9" fill="#6b7280">{ceiling:.0f}</text>',
        f'<line x1="30" y1="{CHART_HEIGHT - 15}" x2="{CHART_WIDTH - 10}" '
        f'y2="{CHART_HEIGHT - 15}" stroke="#c7ccd3"/>',
    ]
    if limit is not None and samples:
        limit_line = " ".join(xy(s.at, limit(s)) for s in samples)
        parts.append(
            f'<polyline points="{limit_line}" fill="none" stroke="#b3261e" '
            f'stroke-dasharray="4 3" stroke-width="1"/>'
        )
    if points:
        parts.append(
            f'<polyline class="series" points="{line}" fill="none" stroke="#2563eb" '
            f'stroke-width="2"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _rows(rows: Sequence[Sequence[str]]) -> str:
    return "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)


def _status_table(status: DatabaseStatus) -> str:
    schema_class = "ok" if status.schema_at_head else "bad"
    up = (
        '<span class="ok">up</span>'
        if status.up
        else f'<span class="bad">down ({escape(status.error or "")})</span>'
    )
    pool = status.pool
    rows = [
        ("Engine", escape(status.engine)),
        ("Database", up),
        ("Target", escape(status.target)),
        ("Server version", escape(status.server_version or "—")),
        (
            "Schema",
            f'<span class="{schema_class}">{escape(status.schema_text())}</span>',
        ),
        (
            "Pool",
            f"{pool.checked_out if pool.checked_out is not None else '—'} in use of "
            f"{pool.size} + {pool.max_overflow} overflow",
        ),
        ("Connections", f"{sum(status.connections.values())} of {status.max_connections or '—'}"),
        ("Size", format_bytes(status.size_bytes)),
    ]
    return f'<table id="status">{_rows(rows)}</table>'


def _tables(status: DatabaseStatus) -> str:
    rows = [
        (escape(name), format_bytes(amount) if unit == "bytes" else f"{amount} rows")
        for name, amount, unit in status.biggest_tables
    ]
    return f"<table>{_rows(rows) or '<tr><td>—</td></tr>'}</table>"


def _alerts(status: DatabaseStatus, recent: Sequence[Delivery]) -> str:
    firing = [
        (
            f'<span class="bad">{escape(a.name)}</span>',
            escape(a.severity),
            escape(a.detail),
            _when(a.since),
        )
        for a in status.firing_alerts
    ]
    events = [
        (
            escape("reminder" if d.message.reminder else d.message.status),
            escape(d.message.alert),
            escape(d.message.detail),
            _when(d.message.resolved_at or d.message.started_at),
            f'<span class="{DELIVERY_CLASS.get(d.state, "bad")}">{escape(d.describe())}</span>',
        )
        for d in reversed(recent)
    ]
    return (
        f'<h2>Firing alerts</h2><table id="firing">{_rows(firing) or NONE_ROW}</table>'
        f'<h2>Recent alert messages</h2><table id="recent-alerts">'
        f"{_rows(events) or NONE_ROW}</table>"
    )


def _backups(backups: Sequence[BackupRecord]) -> str:
    rows = [
        (
            escape(b.backup_id),
            _when(b.created_at.timestamp()),
            format_bytes(b.size_bytes),
            f"{b.duration_seconds:.1f} s",
            escape(b.verify_outcome or "not verified"),
        )
        for b in backups[:10]
    ]
    return f'<table id="backups">{_rows(rows) or "<tr><td>no backups</td></tr>"}</table>'


def render_admin_page(
    status: DatabaseStatus,
    samples: Sequence[Sample],
    recent: Sequence[Delivery],
    backups: Sequence[BackupRecord],
) -> str:
    """Return the whole HTML page."""
    charts = "".join(
        f'<div class="card">{svg}</div>'
        for svg in (
            chart("Pool in use", samples, lambda s: s.pool_checked_out, lambda s: s.pool_capacity),
            chart(
                "Server connections", samples, lambda s: s.connections, lambda s: s.max_connections
            ),
            chart("Mean query latency", samples, lambda s: s.mean_query_ms, unit=" ms"),
            chart("Submissions per sample", samples, lambda s: s.submissions),
        )
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>bandwise · database health</title>"
        f"<style>{STYLE}</style></head><body><h1>bandwise · database health</h1>"
        f'<p class="muted">as of {_when(status.collected_at)}; charts cover the last hour</p>'
        f'<div class="grid"><div class="card"><h2>Status</h2>{_status_table(status)}</div>'
        f'<div class="card"><h2>Biggest tables</h2>{_tables(status)}</div></div>'
        f'<h2>Last hour</h2><div class="grid" id="charts">{charts}</div>'
        f'<div class="card">{_alerts(status, recent)}</div>'
        f'<div class="card"><h2>Backups</h2>{_backups(backups)}</div>'
        "</body></html>"
    )
