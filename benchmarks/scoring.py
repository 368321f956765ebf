"""Benchmark: the offline scorer against human bands, by prompt-grouped K-fold cross-validation.

For Task 1, Task 2 and all essays prints MAE, bias (mean of predicted − human), share within
±0.5 of the human band, Pearson r and quadratic weighted kappa (QWK, on half bands) for:
the fitted model (out-of-fold, with the prompt and without it, and its half band: the overall
band the assessor reports), always answering the training mean, and a linear fit on word count
alone; then how often the likely range shown with the band held the human band (each fold's
range fitted on the other folds only), and the shipped model's time per essay.

    .venv/bin/python benchmarks/scoring.py                   # all essays, 5 folds
    .venv/bin/python benchmarks/scoring.py --limit 120 --folds 3   # the slice CI runs
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from likely_range import fit_interval, held, width
from train_scorer import (
    DEFAULT_DATA,
    FOLDS,
    Essay,
    _folds,
    choose_capacity,
    feature_rows,
    load_essays,
    prompt_groups,
)

from bandwise.assessment.offline import OfflineAssessor
from bandwise.assessment.scorer import RANGE_COVERAGE, half_band, shipped_scorer
from bandwise.assessment.text_stats import word_count
from bandwise.models import TaskType


def qwk(human: np.ndarray, predicted: np.ndarray) -> float:
    """Return the quadratic weighted kappa of two half-band ratings (rounded to half bands)."""
    a = np.clip(np.round(human * 2), 0, 18).astype(int)
    b = np.clip(np.round(predicted * 2), 0, 18).astype(int)
    size = 19
    observed = np.zeros((size, size))
    for i, j in zip(a, b, strict=True):
        observed[i, j] += 1
    expected = np.outer(np.bincount(a, minlength=size), np.bincount(b, minlength=size)) / len(a)
    weights = np.subtract.outer(np.arange(size), np.arange(size)) ** 2 / (size - 1) ** 2
    denominator = (weights * expected).sum()
    return 1.0 if denominator == 0 else float(1 - (weights * observed).sum() / denominator)


def metrics(human: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Return MAE, bias, within ±0.5 (after rounding to half bands), Pearson r and QWK."""
    rounded = np.round(predicted * 2) / 2
    constant = np.allclose(predicted, predicted[0])
    return {
        "MAE": float(np.abs(predicted - human).mean()),
        "bias": float((predicted - human).mean()),
        "within0.5": float((np.abs(rounded - human) <= 0.5).mean()),
        "r": float("nan") if constant else float(np.corrcoef(predicted, human)[0, 1]),
        "QWK": qwk(human, predicted),
    }


def reported_band(predicted: np.ndarray) -> np.ndarray:
    """Return the half bands the assessor reports for these predictions (as it rounds them)."""
    return np.array([float(half_band(float(value))) for value in predicted])


def baselines(essays: Sequence[Essay], folds: int) -> dict[str, np.ndarray]:
    """Return out-of-fold predictions of the constant and the length-only baselines."""
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import GroupKFold

    y = np.array([essay.band for essay in essays])
    length = np.array(
        [[word_count(essay.text), essay.task_type is TaskType.TASK_2] for essay in essays],
        dtype=float,
    )
    constant = np.zeros_like(y)
    length_only = np.zeros_like(y)
    for train, test in GroupKFold(folds).split(length, y, prompt_groups(essays)):
        constant[test] = y[train].mean()
        length_only[test] = LinearRegression().fit(length[train], y[train]).predict(length[test])
    return {"constant (training mean)": constant, "word count only (linear)": length_only}


def range_check(
    essays: Sequence[Essay], folds: int, predicted: np.ndarray, predicted_bare: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return, per essay, whether its likely range held the human band, and the range's width.

    Each fold's ranges come from an interval fitted (as training fits it) on the other folds'
    residuals only, so no essay's own error sets its range.
    """
    y = np.array([essay.band for essay in essays])
    inside = np.zeros(len(y), dtype=bool)
    widths = np.zeros(len(y))
    for train, test in _folds(essays, folds):
        interval = fit_interval(y[train], predicted[train], predicted_bare[train])
        inside[test] = held(y[test], predicted[test], interval["low"], interval["high"])
        widths[test] = width(predicted[test], interval["low"], interval["high"])
    return inside, widths


def run(essays: Sequence[Essay], folds: int) -> str:
    """Cross-validate and return the report."""
    y = np.array([essay.band for essay in essays])
    with_prompt = feature_rows(essays)
    without = feature_rows(essays, with_prompt=False)
    scorer = shipped_scorer()
    shipped = _shipped_capacity()
    capacity = (int(shipped["max_depth"]), int(shipped["n_estimators"]))
    _, _, (predicted, predicted_bare) = choose_capacity(
        essays, with_prompt, without, [capacity], folds=folds, alpha=float(shipped["ridge_alpha"])
    )
    rows = {
        f"fitted model, with prompt (trees {capacity[0]}x{capacity[1]} + ridge)": predicted,
        "fitted model, no prompt": predicted_bare,
        "reported band (with prompt, rounded to half bands)": reported_band(predicted),
        **baselines(essays, folds),
    }
    inside, widths = range_check(essays, folds, predicted, predicted_bare)
    lines = [f"{len(essays)} essays, {folds}-fold cross-validation grouped by prompt", ""]
    for label, mask in (
        ("Task 1", np.array([e.task_type is TaskType.TASK_1 for e in essays])),
        ("Task 2", np.array([e.task_type is TaskType.TASK_2 for e in essays])),
        ("all", np.ones(len(essays), dtype=bool)),
    ):
        if not mask.any():
            continue
        lines.append(f"{label} ({int(mask.sum())} essays)")
        lines.append(f"  {'predictor':<52} {'MAE':>5} {'bias':>6} {'±0.5':>5} {'r':>5} {'QWK':>5}")
        for name, values in rows.items():
            m = metrics(y[mask], values[mask])
            lines.append(
                f"  {name:<52} {m['MAE']:5.2f} {m['bias']:+6.2f} {m['within0.5']:5.0%} "
                f"{m['r']:5.2f} {m['QWK']:5.2f}"
            )
        lines.append(
            f"  likely range shown with the band: holds the human band for "
            f"{inside[mask].mean():.0%}, {widths[mask].mean():.2f} bands wide on average "
            f"(claimed: {RANGE_COVERAGE:.0%})"
        )
        lines.append("")
    assessor = OfflineAssessor(scorer)
    sample = list(essays)[:50]
    started = time.perf_counter()
    for essay in sample:
        assessor.assess_sync(essay.text, essay.task_type, prompt=essay.prompt)
    per_essay = (time.perf_counter() - started) / len(sample) * 1000
    lines.append(f"shipped model: {per_essay:.1f} ms per essay (full assessment, one core)")
    return "\n".join(lines)


def _shipped_capacity() -> dict[str, float]:
    import json

    from bandwise.assessment.scorer import MODEL_PATH

    capacity: dict[str, float] = json.loads(MODEL_PATH.read_text(encoding="utf-8"))["capacity"]
    return capacity


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, cross-validate, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--folds", type=int, default=FOLDS)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N essays")
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"training data not found: {args.data}", file=sys.stderr)
        return 2
    essays = load_essays(args.data)[: args.limit]
    print(run(essays, args.folds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
