"""nnscratch data: fetch data sets into the cache, show what the cache holds, convert to other formats."""
import sys

from ..datasets import DATASETS, DataError, cache_info, default_cache_dir, fetch, get_spec
from ..datasets.cache import cache_path, write_cache
from ..datasets.convert import FORMATS, export
from . import CommandError


def add_parser(subparsers):
    parser = subparsers.add_parser("data", help="fetch, inspect and convert the data sets",
                                   description=__doc__.strip().splitlines()[0])
    commands = parser.add_subparsers(dest="data_command", metavar="ACTION")
    fetch_parser = commands.add_parser("fetch", help="download (or import) a data set into the cache")
    fetch_parser.add_argument("dataset", nargs="?", default="mnist", choices=sorted(DATASETS),
                              help="which data set (default: mnist)")
    fetch_parser.add_argument("--data", metavar="PATH", help="import these files (IDX, CSV, .zip, .npz, "
                              "mnist.pkl.gz) into the cache instead of downloading")
    fetch_parser.set_defaults(run=run_fetch)
    info_parser = commands.add_parser("info", help="where the cache is and what it holds, verified or not")
    info_parser.set_defaults(run=run_info)
    convert_parser = commands.add_parser("convert", help="write a data set as IDX, CSV or .npz files")
    convert_parser.add_argument("directory", metavar="DIR", help="folder to write into (created if needed)")
    convert_parser.add_argument("--to", required=True, choices=FORMATS, help="the format to write")
    convert_parser.add_argument("--dataset", default="mnist", choices=sorted(DATASETS), help="default: mnist")
    convert_parser.add_argument("--data", metavar="PATH", help="read from these files instead of the cache")
    convert_parser.add_argument("--plain", action="store_true", help="write IDX/.npz uncompressed")
    convert_parser.add_argument("--dotted", action="store_true",
                                help="name IDX files train-images.idx3-ubyte instead of train-images-idx3-ubyte")
    convert_parser.set_defaults(run=run_convert)
    parser.set_defaults(run=lambda args: _usage(parser))


def _usage(parser):
    parser.print_help(sys.stderr)
    return 2


def _report(line):
    print(line, file=sys.stderr)


def run_fetch(args):
    spec = get_spec(args.dataset)
    if args.data:
        raw, _ = fetch(spec.name, path=args.data)
        path = write_cache(spec.name, raw, f"files at {args.data}")
        source = f"files at {args.data}"
    else:
        raw, source = fetch(spec.name, report=_report, require_cache=True)
        path = cache_path(spec.name)
    print(f"{spec.name}: {len(raw.x_train)} training and {len(raw.x_test)} test images, cached at {path} "
          f"(from {source})")
    return 0


def run_info(args):
    directory = default_cache_dir()
    entries = cache_info()
    print(f"cache: {directory}" + ("" if directory.is_dir() else " (does not exist yet)"))
    if not entries:
        print("no data sets cached; run: nnscratch data fetch")
    for entry in entries:
        counts = f"{entry['train']} train + {entry['test']} test, " if "train" in entry else ""
        print(f"{entry['name']}: {counts}{entry['bytes'] / 1e6:.1f} MB, from {entry.get('source', '?')}: "
              f"{entry['status']}")
    return 0


def run_convert(args):
    spec = get_spec(args.dataset)
    try:
        raw, _ = fetch(spec.name, path=args.data, download=False)
    except DataError as error:
        if args.data:
            raise
        raise CommandError(f"{spec.name} is not cached; run: nnscratch data fetch {spec.name} "
                           f"(or give --data PATH)") from error
    paths = export(raw, spec, args.directory, to=args.to, compress=not args.plain, dotted=args.dotted)
    for path in paths:
        print(path)
    return 0
