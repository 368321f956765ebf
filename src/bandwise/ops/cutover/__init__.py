"""Production cutover from SQLite to PostgreSQL: one procedure of explicit, reversible steps.

``run_cutover(settings, options) -> CutoverReport`` is what `bandwise db cutover` calls.
"""

from bandwise.ops.cutover.procedure import CutoverOptions, run_cutover
from bandwise.ops.cutover.report import CutoverReport, StepRecord

__all__ = ["CutoverOptions", "CutoverReport", "StepRecord", "run_cutover"]
