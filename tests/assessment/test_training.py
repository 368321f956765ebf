"""The shipped parameters come from the training script, and the benchmark still runs.

Both read the training essays from ``../shared`` beside the repository (present on developers'
machines and in CI, never copied into the project); without it these tests skip.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import likely_range  # noqa: E402
import scoring  # noqa: E402
import train_scorer  # noqa: E402

from bandwise.assessment.features import measure  # noqa: E402
from bandwise.assessment.scorer import MODEL_PATH, FittedScorer  # noqa: E402

needs_data = pytest.mark.skipif(
    not train_scorer.DEFAULT_DATA.exists(), reason="../shared training essays not present"
)


def shipped() -> dict[str, object]:
    parameters: dict[str, object] = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    return parameters


@needs_data
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_training_reproduces_the_shipped_parameters() -> None:
    parameters = shipped()
    capacity = parameters["capacity"]
    assert isinstance(capacity, dict)
    essays = train_scorer.load_essays(train_scorer.DEFAULT_DATA)
    # Refit at the shipped capacity only (the grid search is the slow part; its MAEs ship).
    refit = train_scorer.train(
        essays,
        [(capacity["max_depth"], capacity["n_estimators"])],
        alpha=capacity["ridge_alpha"],
    )
    for key in (
        "features",
        "init",
        "learning_rate",
        "blend_weight",
        "linear",
        "residual_interval",
        "feature_stats",
        "trees",
    ):
        assert refit[key] == parameters[key], key
    assert refit["capacity"]["max_depth"] == capacity["max_depth"]


@needs_data
def test_shipped_scorer_predicts_what_scikit_learn_predicts() -> None:
    essays = train_scorer.load_essays(train_scorer.DEFAULT_DATA)[:40]
    parameters = shipped()
    scorer = FittedScorer.from_parameters(parameters)  # type: ignore[arg-type]
    capacity = parameters["capacity"]
    assert isinstance(capacity, dict)
    rows = train_scorer.feature_rows(essays)
    bare = train_scorer.feature_rows(essays, with_prompt=False)
    y = np.array([essay.band for essay in essays])
    model = train_scorer.make_model(2, 20).fit(np.vstack([rows, bare]), np.concatenate([y, y]))
    linear = train_scorer.fit_linear(10.0, rows, bare, y)
    dumped = FittedScorer.from_parameters(
        {
            **parameters,
            "init": model.init_.constant_[0][0],
            "learning_rate": model.learning_rate,
            "trees": train_scorer.dump_trees(model),
            "linear": linear,
        }  # type: ignore[arg-type]
    )
    weight = dumped.blend_weight
    expected = weight * model.predict(rows) + (1 - weight) * train_scorer.predict_linear(
        linear, rows
    )
    for essay, wanted in zip(essays, expected, strict=True):
        measured = measure(essay.text, essay.task_type, essay.prompt)
        assert dumped.predict(measured) == pytest.approx(wanted, abs=1e-6)
    assert scorer.trees and scorer.linear.coef  # the shipped file loads


@needs_data
@pytest.mark.timeout(600)
def test_benchmark_runs_on_a_slice() -> None:
    essays = train_scorer.load_essays(train_scorer.DEFAULT_DATA)[:90]
    report = scoring.run(essays, folds=3)
    assert "Task 1" in report and "Task 2" in report and "all (90 essays)" in report
    assert "word count only (linear)" in report and "ms per essay" in report
    assert "likely range shown with the band: holds the human band for" in report


def test_qwk_and_metrics_on_known_values() -> None:
    human = np.array([5.0, 6.0, 7.0, 8.0])
    assert scoring.qwk(human, human) == pytest.approx(1.0)
    measured = scoring.metrics(human, human + 0.5)
    assert measured["MAE"] == pytest.approx(0.5) and measured["bias"] == pytest.approx(0.5)
    assert measured["within0.5"] == pytest.approx(1.0) and measured["r"] == pytest.approx(1.0)


def test_likely_range_is_the_narrowest_that_holds_the_target_share() -> None:
    rng = np.random.default_rng(0)
    human = np.round(rng.normal(6.5, 1.0, 400) * 2) / 2
    predicted = human + rng.normal(0.0, 0.6, 400)
    interval = likely_range.fit_interval(human, predicted, predicted)
    inside = likely_range.held(human, predicted, interval["low"], interval["high"])
    assert inside.mean() >= likely_range.RANGE_TARGET
    assert interval["held_in_fit"] == pytest.approx(inside.mean(), abs=1e-4)
    narrower = likely_range.LEVELS[likely_range.LEVELS.index(interval["level"]) - 1]
    tail = (1 - narrower) / 2
    residuals = human - predicted
    low, high = np.quantile(residuals, tail), np.quantile(residuals, 1 - tail)
    assert likely_range.held(human, predicted, low, high).mean() < likely_range.RANGE_TARGET
    assert (likely_range.width(predicted, interval["low"], interval["high"]) >= 0).all()
