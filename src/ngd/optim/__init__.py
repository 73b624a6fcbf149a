"""Optimisers on one objective: NGD (exact or empirical Fisher), Newton, mini-batch SGD.

All share the loop of ``_loop.run``: one stopping rule, one history record, one status table.
"""
from ngd.optim._loop import run
from ngd.optim.curvature import CurvatureStepper
from ngd.optim.sgd import SGDStepper

__all__ = ["run", "CurvatureStepper", "SGDStepper"]
