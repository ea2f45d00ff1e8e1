"""``surrogates.training.budget``: fits for a wall-clock budget (the loop clock, the checks).

The whole calibrate-then-fit path runs in ``tests/test_study_turbulence.py`` (every model
of the quick study is fitted this way); here are the pieces that need no training.
"""

from __future__ import annotations

import math

import pytest

from surrogates.data import Task
from surrogates.errors import ModelError
from surrogates.training.budget import LoopClock, fit_for_budget

TASK = Task(inputs=["u"], targets=["u"], lead=1)


@pytest.mark.parametrize(
    "budget, options, message",
    [
        (0.0, {}, r"budget: got 0.0, expected a positive number of seconds"),
        (math.inf, {}, r"budget: got inf, expected a positive number"),
        (5.0, {"calibration_steps": 0}, r"calibration_steps: got 0, expected an int >= 1"),
        (5.0, {"validations": 1.5}, r"validations: got 1.5, expected an int >= 1"),
        (5.0, {"max_steps": 10}, r"got fit options \['max_steps'\]; the budget sets"),
    ],
)
def test_bad_budgets_and_options_are_refused_before_any_fit(budget, options, message):
    with pytest.raises(ModelError, match=message):
        fit_for_budget(None, TASK, "vnet", budget, **options)


def test_loop_clock_takes_the_median_step_after_warm_up():
    clock = LoopClock()
    clock.on_train_start(None, None)
    clock.ends = [0.0, 5.0, 5.1, 5.2, 5.3, 5.4, 5.5, 5.6, 5.7]  # a slow first step
    assert clock.step_seconds == pytest.approx(0.1)
    clock.on_train_end(None, None)
    assert clock.loop_seconds >= 0
    one = LoopClock()
    one.span = (1.0, 3.0)
    assert one.step_seconds == one.loop_seconds == 2.0  # no gaps: the whole loop
