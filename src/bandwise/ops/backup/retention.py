"""Grandfather-father-son retention: which backups to keep, which to delete, and why."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bandwise.config import Settings
from bandwise.ops.backup.files import discard
from bandwise.ops.backup.manifest import BackupManifest, list_manifests, manifest_path

log = logging.getLogger(__name__)


@dataclass
class PrunePlan:
    """Backups kept (with the rules that keep each) and backups to delete, newest first."""

    keep: list[tuple[BackupManifest, list[str]]] = field(default_factory=list)
    delete: list[BackupManifest] = field(default_factory=list)


def _bucket_rule(
    name: str,
    key: Callable[[datetime], object],
    slots: int,
    candidates: Sequence[BackupManifest],
    reasons: dict[str, list[str]],
) -> None:
    """Keep the newest backup of each of the ``slots`` most recent periods."""
    seen: list[object] = []
    for manifest in candidates:  # newest first
        period = key(manifest.created_at)
        if period in seen:
            continue
        if len(seen) >= slots:
            break
        seen.append(period)
        reasons.setdefault(manifest.id, []).append(f"{name} {period}")


def plan_prune(
    manifests: Sequence[BackupManifest], *, keep_daily: int, keep_weekly: int, keep_monthly: int
) -> PrunePlan:
    """Decide which backups GFS retention keeps; never drops the newest verified backup.

    Backups that failed verification fill no slot (they are deleted unless they are the
    newest backup of all, which is kept for inspection).
    """
    ordered = sorted(manifests, key=lambda item: (item.created_at, item.id), reverse=True)
    candidates = [item for item in ordered if item.verify_outcome != "failed"]
    reasons: dict[str, list[str]] = {}
    _bucket_rule("daily", lambda moment: moment.date().isoformat(), keep_daily, candidates, reasons)
    _bucket_rule(
        "weekly",
        lambda moment: "{}-W{:02d}".format(*moment.isocalendar()[:2]),
        keep_weekly,
        candidates,
        reasons,
    )
    _bucket_rule(
        "monthly", lambda moment: moment.strftime("%Y-%m"), keep_monthly, candidates, reasons
    )
    newest_verified = next((item for item in ordered if item.is_verified), None)
    if newest_verified is not None:
        reasons.setdefault(newest_verified.id, []).append("newest verified")
    if ordered and ordered[0].id not in reasons:
        reasons[ordered[0].id] = ["newest backup"]
    plan = PrunePlan()
    for manifest in ordered:
        if manifest.id in reasons:
            plan.keep.append((manifest, reasons[manifest.id]))
        else:
            plan.delete.append(manifest)
    return plan


def prune(settings: Settings, *, dry_run: bool = False) -> PrunePlan:
    """Apply GFS retention to BACKUP_DIR (nothing deleted when ``dry_run``); return the plan."""
    directory = settings.backup_dir
    plan = plan_prune(
        list_manifests(directory),
        keep_daily=settings.backup_keep_daily,
        keep_weekly=settings.backup_keep_weekly,
        keep_monthly=settings.backup_keep_monthly,
    )
    if dry_run:
        return plan
    for manifest in plan.delete:
        # The manifest goes first: a data file without one is ignored, never mistaken for a backup.
        discard(manifest_path(directory, manifest.id))
        discard(manifest.data_path(directory))
        log.info("backup %s deleted by retention", manifest.id)
    return plan
