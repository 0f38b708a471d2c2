"""Sweeps: many training runs of one search space, on Optuna, from one call or one command.

``sweep(space, settings, trials=..., workers=...)`` runs trials in worker processes that share one Optuna study,
kept in a journal file in ``out`` or, for workers on many machines, in a database (PostgreSQL). Each trial
reports its validation metric after every epoch so that hopeless ones are pruned; a trial that fails is recorded
with its message and the sweep goes on. The only part of nnscratch that imports Optuna
(``pip install nnscratch[sweep]``); the engine never does.

``space``: the search space and its syntax; ``storage``: studies, their stored description, and lost workers;
``worker``: one worker's loop and a trial; ``best``: ``best.npz``; ``results``: lines, tables, ``trials.csv``;
``plot``: ``sweep.png``; ``runner``: ``sweep`` and ``status``.
"""
from .runner import METRICS, PRUNERS, SAMPLERS, SweepResult, status, sweep
from .space import KINDS, Param, SweepError, parse_param, parse_space

__all__ = ["KINDS", "METRICS", "PRUNERS", "Param", "SAMPLERS", "SweepError", "SweepResult", "parse_param",
           "parse_space", "status", "sweep"]
