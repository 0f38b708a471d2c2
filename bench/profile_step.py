"""Where one training step's time goes, layer by layer and phase by phase: nnscratch beside PyTorch, and both
beside the floor that their matrix products set on this machine.

For each network (``cnn-fast``, the preset's network at batch 256, or ``bench-cnn``, the network of
``bench_cnn.py`` at its batch 128; both trained with Adam) the table gives milliseconds per step:

- **nnscratch**: each leaf layer's forward and backward timed on its own inside ``fast.faster(model)``, in
  training mode and with the first layer's data gradient skipped, as ``fit`` runs them; the loss (its value and
  gradient, one call); the optimizer's update; and the glue, which is the whole step timed as ``fit``'s
  ``train_step`` runs it (in steps of their own, taken in turn with the layer-by-layer ones) less the sum of
  the parts. Then the cost of ``nnscratch.evaluate`` per 10,000 images.
- **PyTorch** (when installed): the same layers in the same order with the same weights and threads, the
  same step (zero_grad, forward, loss, backward, Adam), each module's forward timed by forward hooks and its
  backward by backward pre-hooks (a module's backward lasts from the gradient of its output arriving to the
  gradient of the next module's output arriving; the first module's, to the end of ``backward()``); the
  hooks' own cost falls in the layer rows. The glue is the whole step, timed without hooks, less the parts.
  ``torch.profiler``'s table of the same step, grouped by operator, follows.
- **floor**: each layer's multiply-adds (forward: y = W X; backward: the weight gradient and, except for the
  first layer, the data gradient) timed as NumPy float32 products of the same shapes (the unrolled
  convolution's (C_out × C_in·k², C_in·k² × OH·OW·N), the dense layer's), best of several runs in either
  operand order, on the same number of threads. Layers without products (pooling, ReLU, Flatten), the loss and
  the update get no floor. Below the table: the floor for an epoch of 60,000 images beside each framework's
  step time scaled to that epoch, as "x times the floor". A convolution that nnscratch computes by the
  convolution theorem (``fast/spectral.py``) does fewer multiply-adds than the floor counts, so its row can
  fall below it; a note under the table says which did.

Figures are means over ``--steps`` steps after ``--warmup`` steps; ratio is nnscratch's time over PyTorch's;
the frameworks run one after the other (``--rounds 2`` or more alternates their order). Usage:
``python bench/profile_step.py [--network cnn-fast|bench-cnn|both] [--steps 30] [--threads N]``
(``--steps 2`` is a quick look; ``--warmup 1 --eval-size 512 --profile-steps 1 --data random`` tinier still).
"""
import argparse
import os


def command_line():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--network", choices=("cnn-fast", "bench-cnn", "both"), default="both")
    parser.add_argument("--steps", type=int, default=30, help="training steps timed, after the warm-up")
    parser.add_argument("--warmup", type=int, default=5, help="training steps run first and not counted")
    parser.add_argument("--rounds", type=int, default=1, help="turns of each framework, in alternating order")
    parser.add_argument("--eval-size", type=int, default=10000, help="images evaluated (scaled to 10,000)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="threads of nnscratch's pool, of PyTorch and of the floor's products")
    parser.add_argument("--profile-steps", type=int, default=5, help="steps under torch.profiler (0: none)")
    parser.add_argument("--gemm-repeats", type=int, default=5, help="runs of each product for the floor")
    parser.add_argument("--data", choices=("mnist", "random"), default="mnist",
                        help="MNIST (random data of its shape when it is not cached) or random data")
    args = parser.parse_args()
    for name in ("steps", "rounds", "eval_size", "threads", "gemm_repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.warmup < 0 or args.profile_steps < 0:
        parser.error("--warmup and --profile-steps must be 0 or more")
    return args


ARGS = command_line() if __name__ == "__main__" else None
if ARGS is not None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(ARGS.threads))  # before NumPy loads OpenBLAS

import time  # noqa: E402
import warnings  # noqa: E402
from collections import defaultdict  # noqa: E402

import numpy as np  # noqa: E402
from bench_cnn import BATCH_SIZE as BENCH_CNN_BATCH_SIZE  # noqa: E402
from bench_cnn import nnscratch_cnn, openblas_core  # noqa: E402
from benchlib import mnist_training_set  # noqa: E402

import nnscratch as nn  # noqa: E402
from nnscratch import fast  # noqa: E402
from nnscratch.evaluation import EVAL_BATCH_SIZE  # noqa: E402
from nnscratch.fast import spectral  # noqa: E402
from nnscratch.layers import Conv2D, Dropout, Flatten, Linear, MaxPool2D, ReLU  # noqa: E402
from nnscratch.runs.build import build_cnn  # noqa: E402
from nnscratch.training import data_gradient_skipped  # noqa: E402

EPOCH_IMAGES = 60000
CNN_FAST = {"architecture": "cnn-small", "hidden": 256, "dropout": 0.0, "batch_norm": False}
# name: (builder from a generator, batch size, Adam's settings)
NETWORKS = {"cnn-fast": (lambda rng: build_cnn(CNN_FAST, rng), 256, {"lr": 0.01, "betas": (0.7, 0.9)}),
            "bench-cnn": (nnscratch_cnn, BENCH_CNN_BATCH_SIZE, {"lr": 1e-3, "betas": (0.9, 0.999)})}


def machine():
    """One line: the CPU, its cores, NumPy's OpenBLAS's kernels and threads (threadpoolctl), OPENBLAS_CORETYPE."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), model)
    except OSError:
        pass
    try:
        from threadpoolctl import threadpool_info
        found = [info for info in threadpool_info() if info.get("internal_api") == "openblas"]
        numpys = os.path.dirname(np.__file__) + ".libs"   # NumPy's own, not another package's (SciPy's, say)
        blas = next((info for info in found if info.get("filepath", "").startswith(numpys)),
                    found[0] if found else None)
        openblas = (f"OpenBLAS {blas.get('version')} kernels {blas.get('architecture')}, "
                    f"{blas.get('num_threads')} threads" if blas else "no OpenBLAS loaded")
    except ImportError:
        openblas = f"OpenBLAS kernels {openblas_core()} (threadpoolctl not installed)"
    return (f"machine: {model}, {os.cpu_count()} cores, {openblas}, "
            f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}, NumPy {np.__version__}")


class Timings:
    """One framework's seconds, recorded under row names in the order the rows first appear; ``ms(row)`` is
    their mean in milliseconds."""

    def __init__(self, name):
        self.name, self.seconds = name, defaultdict(list)

    def add(self, name, seconds):
        self.seconds[name].append(seconds)

    def ms(self, name):
        values = self.seconds.get(name)
        return 1000.0 * float(np.mean(values)) if values else float("nan")

    def merge(self, other):
        for name, values in other.seconds.items():
            self.seconds[name].extend(values)


def row_name(position, layer):
    return f"{position} {type(layer).__name__}"


def batch_at(x, y, step, batch_size):
    start = (step * batch_size) % max(1, len(x) - batch_size)
    return x[start:start + batch_size], y[start:start + batch_size]


class NnscratchSide:
    """The network in nnscratch: steps timed layer by layer and whole, and evaluation."""

    name = "nnscratch"

    def __init__(self, build, batch_size, adam, threads):
        fast.set_threads(threads)
        self.model = build(np.random.default_rng(0))
        self.layers = fast.leaves(self.model)
        self.loss, self.optimizer = nn.SoftmaxCrossEntropy(), nn.Adam(self.model, **adam)
        self.batch_size, self.computed = batch_size, {}

    def run(self, x, y, steps, warmup):
        """Timings of ``warmup + steps`` steps, each once layer by layer and once as ``train_step`` runs it."""
        timings = Timings(self.name)
        model, loss, optimizer = self.model, self.loss, self.optimizer
        with model.mode(training=True), data_gradient_skipped(model), fast.faster(model) as twins, \
                np.errstate(over="ignore", invalid="ignore"):
            for step in range(warmup + steps):
                record = timings.add if step >= warmup else (lambda name, seconds: None)
                x_batch, y_batch = batch_at(x, y, step, self.batch_size)
                output = x_batch
                for position, layer in enumerate(self.layers):
                    started = time.perf_counter()
                    output = layer.forward(output)
                    record(f"{row_name(position, layer)} forward", time.perf_counter() - started)
                started = time.perf_counter()
                _, grad = loss(output, y_batch)
                record("loss", time.perf_counter() - started)
                for position in reversed(range(len(self.layers))):
                    started = time.perf_counter()
                    grad = self.layers[position].backward(grad)
                    record(f"{row_name(position, self.layers[position])} backward", time.perf_counter() - started)
                started = time.perf_counter()
                optimizer.step()
                record("update (Adam)", time.perf_counter() - started)
                started = time.perf_counter()
                nn.train_step(model, x_batch, y_batch, loss, optimizer)
                record("step", time.perf_counter() - started)
            self.computed = {position: getattr(twins.get(layer), "computed", None)
                             for position, layer in enumerate(self.layers) if isinstance(layer, Conv2D)}
        return timings

    def evaluation_seconds(self, x, y):
        nn.evaluate(self.model, x[:EVAL_BATCH_SIZE], y[:EVAL_BATCH_SIZE], self.loss)  # first-touch allocations
        started = time.perf_counter()
        nn.evaluate(self.model, x, y, self.loss)
        return time.perf_counter() - started


def torch_twin(torch, layers):
    """The same layers in PyTorch, in the same order, with the same weights."""
    modules = []
    for layer in layers:
        if isinstance(layer, Conv2D):
            module = torch.nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                                     layer.padding)
            with torch.no_grad():
                module.weight.copy_(torch.from_numpy(layer.params["W"]))
                module.bias.copy_(torch.from_numpy(layer.params["b"]))
        elif isinstance(layer, Linear):
            module = torch.nn.Linear(layer.in_features, layer.out_features)
            with torch.no_grad():
                module.weight.copy_(torch.from_numpy(layer.params["W"].T))
                module.bias.copy_(torch.from_numpy(layer.params["b"]))
        elif isinstance(layer, MaxPool2D):
            module = torch.nn.MaxPool2d(layer.kernel_size, layer.stride)
        elif isinstance(layer, ReLU):
            module = torch.nn.ReLU()
        elif isinstance(layer, Flatten):
            module = torch.nn.Flatten()
        elif isinstance(layer, Dropout):
            module = torch.nn.Dropout(layer.p)
        else:
            raise ValueError(f"profile_step has no PyTorch module for {type(layer).__name__}")
        modules.append(module)
    return torch.nn.Sequential(*modules)


class TorchSide:
    """The same network and step in PyTorch: steps timed by module hooks and whole, evaluation, the profiler."""

    name = "PyTorch"

    def __init__(self, torch, layers, batch_size, adam, threads):
        torch.set_num_threads(threads)
        self.torch, self.layers, self.batch_size = torch, layers, batch_size
        self.model = torch_twin(torch, layers)
        self.loss = torch.nn.CrossEntropyLoss()
        self.optimizer = torch.optim.Adam(self.model.parameters(), **adam)
        # The first module's input needs no gradient, so PyTorch warns that its hooks fire on its output's
        # gradient: the moment its backward begins, which is all that the backward pre-hooks time here.
        warnings.filterwarnings("ignore", message="Full backward hook is firing")

    def step(self, x_batch, y_batch):
        """One step as a plain PyTorch training loop runs it (``benchlib.TorchEpochs``)."""
        self.optimizer.zero_grad(set_to_none=True)
        self.loss(self.model(x_batch), y_batch).backward()
        self.optimizer.step()

    def hooked_step(self, x_batch, y_batch, record):
        """One step with each module's forward and backward timed through hooks."""
        started, arrived, handles = {}, {}, []
        for position, module in enumerate(self.model):
            def before(module, inputs, position=position):
                started[position] = time.perf_counter()

            def after(module, inputs, output, position=position):
                record(f"{row_name(position, self.layers[position])} forward", time.perf_counter() - started[position])

            def gradient_arrived(module, grad_output, position=position):
                arrived[position] = time.perf_counter()

            handles += [module.register_forward_pre_hook(before), module.register_forward_hook(after),
                        module.register_full_backward_pre_hook(gradient_arrived)]
        try:
            self.optimizer.zero_grad(set_to_none=True)
            output = self.model(x_batch)
            loss_started = time.perf_counter()
            value = self.loss(output, y_batch)
            loss_forward = time.perf_counter() - loss_started
            backward_started = time.perf_counter()
            value.backward()
            backward_ended = time.perf_counter()
        finally:
            for handle in handles:
                handle.remove()
        last = len(self.model) - 1
        record("loss", loss_forward + arrived[last] - backward_started)
        for position in range(last, -1, -1):
            ended = arrived[position - 1] if position else backward_ended
            record(f"{row_name(position, self.layers[position])} backward", ended - arrived[position])
        update_started = time.perf_counter()
        self.optimizer.step()
        record("update (Adam)", time.perf_counter() - update_started)

    def run(self, x, y, steps, warmup):
        timings = Timings(self.name)
        x, y = self.torch.from_numpy(x), self.torch.from_numpy(y.astype(np.int64))
        self.model.train()
        for step in range(warmup + steps):
            record = timings.add if step >= warmup else (lambda name, seconds: None)
            x_batch, y_batch = batch_at(x, y, step, self.batch_size)
            self.hooked_step(x_batch, y_batch, record)
            started = time.perf_counter()
            self.step(x_batch, y_batch)
            record("step", time.perf_counter() - started)
        return timings

    def evaluation_seconds(self, x, y):
        x, y = self.torch.from_numpy(x), self.torch.from_numpy(y.astype(np.int64))

        def evaluate(count):
            total_loss, correct = 0.0, 0
            with self.torch.no_grad():
                for start in range(0, count, EVAL_BATCH_SIZE):
                    output = self.model(x[start:start + EVAL_BATCH_SIZE])
                    target = y[start:start + EVAL_BATCH_SIZE]
                    total_loss += float(self.loss(output, target)) * len(target)
                    correct += int((output.argmax(1) == target).sum())
            return total_loss / count, correct / count

        self.model.eval()
        evaluate(min(len(x), EVAL_BATCH_SIZE))
        started = time.perf_counter()
        evaluate(len(x))
        seconds = time.perf_counter() - started
        self.model.train()
        return seconds

    def profiler_table(self, x, y, steps):
        from torch.profiler import ProfilerActivity, profile
        x, y = self.torch.from_numpy(x), self.torch.from_numpy(y.astype(np.int64))
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as profiler:
            for step in range(steps):
                self.step(*batch_at(x, y, step, self.batch_size))
        return profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=15, max_name_column_width=34)


def input_shapes(layers):
    """The (C, H, W) or (features,) shape of one image as each layer receives it."""
    shape, shapes = (1, 28, 28), []
    for layer in layers:
        shapes.append(shape)
        if isinstance(layer, Conv2D):
            height, width = shape[1] + 2 * layer.padding[0], shape[2] + 2 * layer.padding[1]
            (kh, kw), (sh, sw) = layer.kernel_size, layer.stride
            shape = (layer.out_channels, (height - kh) // sh + 1, (width - kw) // sw + 1)
        elif isinstance(layer, MaxPool2D):
            (kh, kw), (sh, sw) = layer.kernel_size, layer.stride
            shape = (shape[0], (shape[1] - kh) // sh + 1, (shape[2] - kw) // sw + 1)
        elif isinstance(layer, Flatten):
            shape = (int(np.prod(shape)),)
        elif isinstance(layer, Linear):
            shape = (layer.out_features,)
    return shapes


def products(layers, batch_size):
    """Each layer's matrix products in one training step, as ``{row name: [(m, k, n), ...]}`` (m × k times
    k × n): forward y = W X; backward the weight gradient and, except for the first layer, the data gradient."""
    found = {}
    for position, (layer, shape) in enumerate(zip(layers, input_shapes(layers), strict=True)):
        name, first = row_name(position, layer), position == 0
        if isinstance(layer, Conv2D):
            channels, height, width = shape[0], shape[1] + 2 * layer.padding[0], shape[2] + 2 * layer.padding[1]
            (kh, kw), (sh, sw) = layer.kernel_size, layer.stride
            windows = channels * kh * kw
            pixels = ((height - kh) // sh + 1) * ((width - kw) // sw + 1) * batch_size
            found[f"{name} forward"] = [(layer.out_channels, windows, pixels)]                 # W X
            found[f"{name} backward"] = [(layer.out_channels, pixels, windows)] + (            # G Xᵀ
                [] if first else [(windows, layer.out_channels, pixels)])                      # Wᵀ G
        elif isinstance(layer, Linear):
            found[f"{name} forward"] = [(batch_size, layer.in_features, layer.out_features)]   # x W
            found[f"{name} backward"] = [(layer.in_features, batch_size, layer.out_features)] + (  # xᵀ G
                [] if first else [(batch_size, layer.out_features, layer.in_features)])            # G Wᵀ
    return found


def spectral_notes(layers, computed, batch_size):
    """A line for each convolution nnscratch computed by the convolution theorem, with both counts."""
    notes, shapes = [], input_shapes(layers)
    for position, method in computed.items():
        if method != "spectral":
            continue
        layer, (channels, height, width) = layers[position], shapes[position]
        unrolled, by_spectrum = spectral.multiply_adds(channels, layer.out_channels, height + 2 * layer.padding[0],
                                                       width + 2 * layer.padding[1], layer.kernel_size,
                                                       position > 0)
        notes.append(f"note: nnscratch computed {row_name(position, layer)} by the convolution theorem: "
                     f"{by_spectrum * batch_size / 1e6:.1f} M multiply-adds a step (forward and backward) "
                     f"against the floor's {unrolled * batch_size / 1e6:.1f} M unrolled")
    return notes


class GemmFloor:
    """The best time of a float32 product of each shape on this machine, either operand order, on ``threads``."""

    def __init__(self, threads, repeats):
        self.threads, self.repeats, self.best = threads, repeats, {}

    def seconds(self, shape):
        if shape not in self.best:
            m, k, n = shape
            rng = np.random.default_rng(0)
            a, b = rng.random((m, k), dtype=np.float32), rng.random((k, n), dtype=np.float32)
            times = []
            for left, right in ((a, b), (b.T, a.T)):        # a b, and (bᵀ aᵀ)ᵀ: the same multiply-adds
                np.matmul(left, right)
                for _ in range(self.repeats):
                    started = time.perf_counter()
                    np.matmul(left, right)
                    times.append(time.perf_counter() - started)
            self.best[shape] = min(times)
        return self.best[shape]

    def table(self, found):
        """``{row: (multiply-adds, floor seconds)}`` for the rows with products."""
        try:
            from threadpoolctl import threadpool_limits
            limits = threadpool_limits(limits=self.threads, user_api="blas")
        except ImportError:
            limits = None
        try:
            return {row: (sum(m * k * n for m, k, n in shapes), sum(self.seconds(shape) for shape in shapes))
                    for row, shapes in found.items()}
        finally:
            if limits is not None:
                limits.restore_original_limits()


def ratio(ours, theirs):
    return ours / theirs if theirs and np.isfinite(theirs) else float("nan")


def print_table(network, batch_size, rows, ours, theirs, floor, evaluation, notes):
    """One table: rows of layer and phase; nnscratch ms, PyTorch ms, their ratio, the floor in ms."""
    header = (f"{network + f', batch {batch_size}, ms per step':<40} {'nnscratch':>9} {'PyTorch':>9} {'ratio':>6} "
              f"{'floor':>7} {'M mult-adds':>11} {'Gmac/s':>7}")
    print(header)
    print("-" * len(header))
    parts = [row for row in rows if row != "step"]
    for row in [*parts, "glue", "step", "evaluation per 10,000 images"]:
        if row == "glue":
            mine, yours = (timings.ms("step") - sum(timings.ms(part) for part in parts) for timings in (ours, theirs))
        elif row == "evaluation per 10,000 images":
            mine, yours = evaluation
        else:
            mine, yours = ours.ms(row), theirs.ms(row)
        macs, seconds = floor.get(row, (0, None))
        floor_text = f"{1000 * seconds:>7.2f} {macs / 1e6:>11.1f} {macs / seconds / 1e9:>7.1f}" if seconds else ""
        print(f"{row:<40} {mine:>9.2f} {yours:>9.2f} {ratio(mine, yours):>6.2f} {floor_text}")
    step_floor = sum(seconds for row, (_, seconds) in floor.items() if row in parts)
    print(f"\nper epoch of {EPOCH_IMAGES:,} images (step time × {EPOCH_IMAGES / batch_size:g}): "
          f"floor {step_floor * EPOCH_IMAGES / batch_size:.2f} s", end="")
    for timings in (ours, theirs):
        epoch = timings.ms("step") / 1000 * EPOCH_IMAGES / batch_size
        print(f"; {timings.name} {epoch:.2f} s ({ratio(epoch, step_floor * EPOCH_IMAGES / batch_size):.2f} "
              f"times the floor)", end="")
    print()
    for note in notes:
        print(note)
    print()


def profile_network(network, args, x, y, x_eval, y_eval, torch):
    build, batch_size, adam = NETWORKS[network]
    sides = [NnscratchSide(build, batch_size, adam, args.threads)]
    if torch is not None:
        sides.append(TorchSide(torch, sides[0].layers, batch_size, adam, args.threads))
    timings = {side.name: Timings(side.name) for side in sides}
    for turn in range(args.rounds):
        for side in sides if turn % 2 == 0 else sides[::-1]:
            timings[side.name].merge(side.run(x, y, args.steps, args.warmup if turn == 0 else 0))
    evaluation = [10000 * side.evaluation_seconds(x_eval, y_eval) / len(x_eval) * 1000 for side in sides]
    ours, theirs = timings["nnscratch"], timings.get("PyTorch", Timings("PyTorch (not installed)"))
    layers = sides[0].layers
    gemm = GemmFloor(args.threads, args.gemm_repeats)   # one cache of timed shapes for training and evaluation
    floor = gemm.table(products(layers, batch_size))
    eval_products = {row: shapes for row, shapes in products(layers, EVAL_BATCH_SIZE).items() if "forward" in row}
    eval_floor = gemm.table(eval_products)
    batches = 10000 / EVAL_BATCH_SIZE
    floor["evaluation per 10,000 images"] = (sum(macs for macs, _ in eval_floor.values()) * batches,
                                             sum(seconds for _, seconds in eval_floor.values()) * batches)
    notes = spectral_notes(layers, sides[0].computed, batch_size)
    print_table(network, batch_size, list(ours.seconds), ours, theirs, floor,
                (evaluation[0], evaluation[1] if len(evaluation) > 1 else float("nan")), notes)
    if torch is not None and args.profile_steps:
        print(f"torch.profiler, {network}: {args.profile_steps} steps, grouped by operator")
        print(sides[1].profiler_table(x, y, args.profile_steps))


def main(args):
    try:
        import torch
    except ImportError:
        torch = None
    print(machine() + f"; threads: nnscratch pool {args.threads}, PyTorch "
          + (f"{args.threads} (torch {torch.__version__})" if torch is not None else "not installed")
          + f"; {args.steps} steps after {args.warmup} warm-up, {args.rounds} round(s)\n")
    if args.data == "mnist":
        x, y, source = mnist_training_set(shape="image")
    else:
        rng, source = np.random.default_rng(0), "random"
        count = max(args.eval_size, 16 * max(batch for _, batch, _ in NETWORKS.values()))
        x, y = rng.random((count, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, count)
    x_eval, y_eval = x[:args.eval_size], y[:args.eval_size]
    print(f"data: {source} {x.shape}; evaluation on {len(x_eval)} images, scaled to 10,000\n")
    for network in NETWORKS if args.network == "both" else [args.network]:
        profile_network(network, args, x, y, x_eval, y_eval, torch)


if __name__ == "__main__":
    main(ARGS)
