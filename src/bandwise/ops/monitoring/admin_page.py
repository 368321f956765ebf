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
from bandwise.wording import plural

CHART_WIDTH = 290
DELIVERY_CLASS = {"delivered": "ok", "not sent": "muted"}
NONE_ROW = "<tr><td>none</td></tr>"
CHART_HEIGHT = 135
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


def _tick(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M")


def chart(
    title: str,
    samples: Sequence[Sample],
    value: Callable[[Sample], float],
    limit: Callable[[Sample], float] | None = None,
    unit: str = "",
) -> str:
    """Return an inline SVG line chart of ``value`` over time (dashed ``limit`` line).

    Both axes are drawn and labelled: the value axis from 0 to the highest value in ``unit``,
    the time axis from the first to the last sample in UTC.
    """
    points = [(sample.at, value(sample)) for sample in samples]
    values = [amount for _, amount in points]
    if limit is not None:
        values += [limit(sample) for sample in samples]
    ceiling = max(values, default=0.0) or 1.0
    span_start = points[0][0] if points else 0.0
    span = max((points[-1][0] - span_start) if points else 0.0, 1.0)
    left, right, top, bottom = 34, CHART_WIDTH - 10, 24, CHART_HEIGHT - 28

    def xy(at: float, amount: float) -> str:
        x = left + (at - span_start) / span * (right - left)
        y = bottom - amount / ceiling * (bottom - top)
        return f"{x:.1f},{y:.1f}"

    line = " ".join(xy(at, amount) for at, amount in points)
    latest = f"{points[-1][1]:.1f} {unit}".rstrip() if points else "no data yet"
    grey = 'font-size="9" fill="#6b7280"'
    parts = [
        f'<svg role="img" aria-label="{escape(title)}" width="{CHART_WIDTH}" '
        f'height="{CHART_HEIGHT}" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}">',
        f'<text x="4" y="12" font-size="11">{escape(title)}: {escape(latest)}</text>',
        # Value axis: 0 and the top value, in the unit.
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#c7ccd3"/>',
        f'<text x="{left - 3}" y="{bottom + 3}" text-anchor="end" {grey}>0</text>',
        f'<text x="{left - 3}" y="{top + 3}" text-anchor="end" {grey}>{ceiling:.0f}</text>',
        f'<text x="{left + 3}" y="{top - 3}" {grey}>{escape(unit)}</text>',
        # Time axis: first and last sample, UTC.
        f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#c7ccd3"/>',
    ]
    if points:
        parts += [
            f'<text x="{left}" y="{bottom + 12}" {grey}>{_tick(points[0][0])}</text>',
            f'<text x="{right}" y="{bottom + 12}" text-anchor="end" {grey}>'
            f"{_tick(points[-1][0])}</text>",
        ]
    parts.append(
        f'<text x="{(left + right) // 2}" y="{CHART_HEIGHT - 3}" text-anchor="middle" {grey}>'
        "time (UTC)</text>"
    )
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


def _header(*names: str) -> str:
    return "<tr>" + "".join(f"<th>{escape(name)}</th>" for name in names) + "</tr>"


def _rows(rows: Sequence[Sequence[str]]) -> str:
    return "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)


def _status_table(status: DatabaseStatus) -> str:
    schema_class = "ok" if status.schema_at_head else "bad"
    up = (
        f'<span class="{"ok" if status.up and not status.stale else "bad"}">'
        f"{escape(status.availability_text())}</span>"
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
        (escape(name), format_bytes(amount) if unit == "bytes" else plural(amount, "row"))
        for name, amount, unit in status.biggest_tables
    ]
    header = _header("table", "size") if rows else ""
    return f"<table>{header}{_rows(rows) or '<tr><td>—</td></tr>'}</table>"


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
    firing_header = _header("alert", "severity", "detail", "since") if firing else ""
    events_header = _header("event", "alert", "detail", "at", "delivery") if events else ""
    return (
        f'<h2>Firing alerts</h2><table id="firing">{firing_header}'
        f"{_rows(firing) or NONE_ROW}</table>"
        f'<h2>Recent alert messages</h2><table id="recent-alerts">{events_header}'
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
    header = _header("backup", "taken", "size", "took", "verified")
    body = _rows(rows) or "<tr><td>no backups</td></tr>"
    return f'<table id="backups">{header if rows else ""}{body}</table>'


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
            chart(
                "Pool in use",
                samples,
                lambda s: s.pool_checked_out,
                lambda s: s.pool_capacity,
                unit="connections",
            ),
            chart(
                "Server connections",
                samples,
                lambda s: s.connections,
                lambda s: s.max_connections,
                unit="connections",
            ),
            chart("Mean query latency", samples, lambda s: s.mean_query_ms, unit="ms"),
            chart("Submissions per sample", samples, lambda s: s.submissions, unit="submissions"),
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
