"""Optimisers on one objective: NGD (exact, empirical, diagonal Fisher or the Boehning bound),
Newton, mini-batch SGD, stochastic quasi-Newton (SQN), Adam and RMSprop.

All share the loop of ``_loop.run``: one stopping rule, one history record, one status table.
"""
from ngd.optim._loop import run
from ngd.optim.adam import AdamStepper
from ngd.optim.curvature import CurvatureStepper
from ngd.optim.diagonal import DiagonalStepper
from ngd.optim.sgd import SGDStepper
from ngd.optim.sqn import SQNStepper

__all__ = ["run", "CurvatureStepper", "DiagonalStepper", "SGDStepper", "SQNStepper",
           "AdamStepper"]
