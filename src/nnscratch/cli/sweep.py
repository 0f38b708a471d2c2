"""nnscratch sweep: many training runs of one search space, on Optuna, in worker processes sharing one study.

``--param NAME=KIND:ARGS`` says what varies (loguniform:LOW:HIGH, uniform:LOW:HIGH, int:LOW:HIGH,
choice:A,B,C); any other training flag fixes a setting for every trial. The study lives in a journal file in
--out, or in a database given by --storage (postgresql://user@host/db), which workers on other machines join.
The total of --trials is the study's: running the same command again resumes it. ``nnscratch sweep status``
prints the table so far. In --out: trials.csv, sweep.png, best.npz (and its history) and best.json. A failed
trial is one line with its error and the sweep goes on; when every trial has failed the exit status is 1.
"""
import os
import sys

from ..presets import PRESETS
from ..runs.table import add_flags
from .train import given_settings


def add_parser(subparsers):
    parser = subparsers.add_parser("sweep", help="run many trainings over a search space (Optuna), or show one",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("action", nargs="?", choices=["status"], help="status: print the study's trials so far")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=KIND:ARGS",
                        help="a setting to sweep, e.g. lr=loguniform:1e-4:1e-1, hidden=choice:64,128,256, "
                             "seed=int:0:4, dropout=uniform:0:0.5 (hidden: the width of every hidden layer)")
    parser.add_argument("--trials", type=int, default=20, help="trials in the whole study (default: 20)")
    parser.add_argument("--workers", type=int, default=None,
                        help=f"worker processes on this machine, at least 1 and no more than there are trials "
                             f"left (default: one per core, {os.cpu_count()})")
    parser.add_argument("--metric", default="val_accuracy", help="val_accuracy (default) or val_loss")
    parser.add_argument("--sampler", default="tpe", help="tpe (default), random or grid")
    parser.add_argument("--pruner", default="median", help="median (default) or none")
    parser.add_argument("--storage", metavar="URL", help="a database shared by machines, e.g. "
                        "postgresql://user@host/db (default: a journal file in --out)")
    parser.add_argument("--study", metavar="NAME", help="the study's name (default: the name of --out)")
    parser.add_argument("--join", action="store_true",
                        help="add workers to a study that exists (its --param and settings need not be repeated)")
    parser.add_argument("--out", default=os.path.join("runs", "sweep"), metavar="FOLDER",
                        help="folder for the journal, trials.csv, sweep.png and best.npz (default: runs/sweep)")
    parser.add_argument("--seed-sampler", type=int, default=None, metavar="SEED",
                        help="seed of the sampler (the training's own seed is --seed)")
    parser.add_argument("--quiet", action="store_true", help="no line per trial")
    parser.add_argument("--preset", help=f"start from a preset ({', '.join(PRESETS)}); flags override it")
    add_flags(parser, skip=("report_test_each_epoch", "evaluate_before"), prefix="fixed for every trial: ")
    parser.set_defaults(run=run)


def run(args):
    try:
        from .. import sweep as sweeps
    except ImportError as error:
        raise ValueError(f"nnscratch sweep needs Optuna ({error}); pip install nnscratch[sweep]") from None
    if args.action == "status":
        result = sweeps.status(args.out, args.storage, args.study)
        print(result.summary(top=10))
        return 0
    given = given_settings(args)
    if args.preset:
        given["preset"] = args.preset
    workers = (os.cpu_count() or 1) if args.workers is None else args.workers  # 0 is refused, not the default
    result = sweeps.sweep(args.param, given, trials=args.trials, out=args.out, workers=workers,
                          storage=args.storage, study=args.study,
                          sampler=args.sampler, pruner=args.pruner, metric=args.metric, join=args.join,
                          quiet=args.quiet, seed=args.seed_sampler)
    print("\n" + result.summary())
    written = [name for name in ("trials.csv", "sweep.png", "best.npz") if os.path.exists(os.path.join(args.out, name))]
    if written:
        print(f"In {args.out}: {', '.join(written)}"
              + (f"; nnscratch evaluate {os.path.join(args.out, 'best.npz')}" if "best.npz" in written else ""))
    failed = result.all_failed()
    if failed:
        print(f"nnscratch sweep: error: {failed}", file=sys.stderr)
        return 1
    return 0
