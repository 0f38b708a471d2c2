"""``nnscratch exercises``: implement backpropagation yourself, and be told precisely what is wrong.

Without an action it lists the track. ``start NAME [FOLDER]`` writes a file to fill in (never over an existing
one); ``check FILE`` compares each class in it with the engine class it subclasses, array by array with a
diagnosis, then in lockstep on MNIST, and when all is right trains a network of your layers for about a minute.
``check`` exits 0 when everything passes, 1 when something is wrong, 2 when the file cannot be read.
"""
import json
import sys

from ..exercises import PARTS, TRACK, ExerciseFileError, check_classes, learner_classes, start
from ..gradcheck import THRESHOLD

EXIT_WRONG = 1
EXIT_UNREADABLE = 2


def add_parser(subparsers):
    parser = subparsers.add_parser("exercises", help="implement backpropagation yourself, with a checker that "
                                                     "finds your bug", description=__doc__.splitlines()[0])
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    begin = actions.add_parser("start", help="write an exercise file to fill in",
                               description="Write the exercise NAME as a Python file to fill in, in FOLDER "
                                           "(default: here). An existing file is never replaced.")
    begin.add_argument("name", metavar="NAME", help=f"one of: {', '.join(exercise.name for exercise in TRACK)}")
    begin.add_argument("folder", metavar="FOLDER", nargs="?", default=".", help="where to write it (default: .)")
    checking = actions.add_parser("check", help="check the classes of an exercise file",
                                  description="Check every class in FILE that subclasses an engine layer, loss "
                                              "or optimizer. Exit status: 0 all right, 1 something wrong, "
                                              "2 the file cannot be read.")
    checking.add_argument("file", metavar="FILE", help="the Python file with your classes")
    checking.add_argument("--json", action="store_true", help="print one JSON object instead of the text")
    checking.add_argument("--steps", type=non_negative(int), default=200, metavar="N",
                          help="lockstep steps on MNIST beside the engine's classes (default 200; 0 skips)")
    checking.add_argument("--seconds", type=non_negative(float), default=60.0, metavar="S",
                          help="how long to train a network of your layers once all is right (default 60; "
                               "0 skips)")
    parser.set_defaults(run=run)


def non_negative(kind):
    def parse(text):
        import argparse
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not value >= 0:
            raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
        return value
    return parse


def run(args):
    if args.action == "start":
        return run_start(args)
    if args.action == "check":
        return run_check(args)
    print("\n".join(track_lines()))
    return 0


def track_lines():
    """The track, part by part: each exercise's name, what it teaches, its section of math.md and its time."""
    lines = ["The exercises: build a network from the inside out. Start one with",
             "  nnscratch exercises start NAME [FOLDER]     and check it with     nnscratch exercises check FILE", ""]
    for part, title in PARTS.items():
        lines.append(title)
        for exercise in (exercise for exercise in TRACK if exercise.part == part):
            lines.append(f"  {exercise.number:2d}. {exercise.name:<22} {exercise.title}, about "
                         f"{exercise.minutes} minutes")
            lines.append(f"      {exercise.teaches}")
            lines.append(f"      Read: docs/math.md, \"{exercise.math}\"")
        lines.append("")
    lines.append(f"A check passes when every array agrees with the engine's to a relative error of {THRESHOLD:g} "
                 f"(docs/math.md, \"One threshold\").")
    return lines


def run_start(args):
    try:
        path = start(args.name, args.folder)
    except (ExerciseFileError, OSError) as error:
        print(f"nnscratch exercises start: error: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    print(f"Wrote {path}. Fill in the methods that raise NotImplementedError, then run:")
    print(f"  nnscratch exercises check {path}")
    return 0


def run_check(args):
    try:
        classes = learner_classes(args.file)
    except ExerciseFileError as error:
        print(f"nnscratch exercises check: cannot read {args.file}:\n{error}" if "\n" in str(error)
              else f"nnscratch exercises check: error: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    result = check_classes(classes, steps=args.steps, train_seconds=args.seconds)
    print(json.dumps(result.to_dict(), indent=2, default=float) if args.json else result)
    return 0 if result.passed else EXIT_WRONG
