"""The benchmarks run, on tiny sizes, so that they cannot rot between the times someone measures with them.
They print tables and never judge speed; here only their running to the end is checked."""
import os
import pathlib
import subprocess
import sys

import pytest

from nnscratch import Network
from nnscratch.serialization import save_model

BENCH = pathlib.Path(__file__).resolve().parents[2] / "bench"

SMOKE_RUNS = {
    "bench_mlp.py": ["--quick", "--repeats", "1", "--train-size", "512"],
    "bench_cnn.py": ["--repeats", "1", "--train-size", "256"],
    "bench_memory.py": ["--steps", "2", "--eval-size", "300"],
    "bench_data_cache.py": ["--small", "--repeat", "1"],
    "bench_predict_latency.py": ["--requests", "3"],
    "bench_explain.py": ["--repeats", "1"],
    "bench_sweep.py": ["--trials", "2", "--train-size", "200"],
    "bench_page_train.py": ["--train-size", "500", "--epochs", "1", "--rounds", "1", "--seconds", "1",
                            "--streams", "2", "--posters", "2"],
    "bench_photos.py": ["{model}", "--count", "20"],
    "bench_time_to_99.py": ["--seeds", "0", "--train-size", "512"],
}


@pytest.mark.network  # they read MNIST
@pytest.mark.parametrize("script", sorted(SMOKE_RUNS))
def test_the_benchmark_runs_on_tiny_sizes(script, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    model = tmp_path / "model.npz"  # for the benchmarks that measure a model: a small untrained one
    save_model(model, Network([784, 16, 10], activation="relu", output=None, rng=0),
               {"dataset": "mnist", "input_shape": [784]})
    argv = [str(model) if argument == "{model}" else argument for argument in SMOKE_RUNS[script]]
    result = subprocess.run([sys.executable, str(BENCH / script), *argv], capture_output=True,
                            text=True, timeout=300, cwd=BENCH, env=env)
    assert result.returncode == 0, f"{script} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    assert result.stdout.strip(), f"{script} printed nothing"


def test_every_benchmark_has_a_smoke_run():
    scripts = {path.name for path in BENCH.glob("bench_*.py")}
    assert scripts <= set(SMOKE_RUNS), f"benchmarks without a smoke run: {sorted(scripts - set(SMOKE_RUNS))}"


def test_the_step_profile_prints_every_layer_and_phase_of_both_networks():
    """``profile_step.py`` (not a ``bench_*`` script, so not in SMOKE_RUNS) on random data and two steps: the
    machine line, and for each network a row per layer and phase with nnscratch's milliseconds, a floor for
    each layer with matrix products, PyTorch's milliseconds where PyTorch is installed, and the epoch line."""
    import importlib.util
    import math
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    argv = ["--steps", "2", "--warmup", "1", "--eval-size", "256", "--profile-steps", "1", "--data", "random",
            "--threads", "1", "--gemm-repeats", "1"]
    result = subprocess.run([sys.executable, str(BENCH / "profile_step.py"), *argv], capture_output=True,
                            text=True, timeout=300, cwd=BENCH, env=env)
    assert result.returncode == 0, f"profile_step.py failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    assert result.stdout.startswith("machine: "), f"no machine line first:\n{result.stdout[:500]}"
    assert "OPENBLAS_CORETYPE=" in result.stdout.splitlines()[0], result.stdout.splitlines()[0]
    with_torch = importlib.util.find_spec("torch") is not None
    tables = result.stdout.split("ms per step")[1:]
    assert len(tables) == 2, f"expected a table for cnn-fast and one for bench-cnn, got {len(tables)}"
    layers = ["Conv2D", "MaxPool2D", "ReLU", "Conv2D", "MaxPool2D", "ReLU", "Flatten", "Linear", "ReLU", "Linear"]
    expected = ([f"{position} {name} {phase}" for position, name in enumerate(layers)
                 for phase in ("forward", "backward")]
                + ["loss", "update (Adam)", "glue", "step", "evaluation per 10,000 images"])
    for table in tables:
        rows = {}
        for line in table.split("\n\n")[0].splitlines()[2:]:  # after the header's end and its rule
            words, values = line.split(), []
            while words and _is_number(words[-1]):
                values.insert(0, float(words.pop()))
            rows[" ".join(words)] = values
        missing = [row for row in expected if row not in rows]
        assert not missing, f"rows missing from the table: {missing}\n{table[:3000]}"
        for row in expected:
            assert math.isfinite(rows[row][0]) and (row == "glue" or rows[row][0] >= 0), \
                f"{row}: nnscratch ms should be a time (0.00 for the quickest layers), got {rows[row]}"
            assert math.isfinite(rows[row][1]) == with_torch, f"{row}: PyTorch ms {rows[row][1]} (torch "\
                f"{'installed' if with_torch else 'not installed'})"
        for row in ("step", "evaluation per 10,000 images"):
            assert rows[row][0] > 0, f"{row}: nnscratch ms should be positive, got {rows[row]}"
        for row in expected:
            has_products = ("Conv2D" in row or "Linear" in row) or row.startswith("evaluation")
            assert (len(rows[row]) == 6) == has_products, f"{row}: expected a floor only for layers with " \
                f"products, got the values {rows[row]}"
            if has_products:
                assert rows[row][3] > 0 and rows[row][4] > 0, f"{row}: floor ms and multiply-adds {rows[row]}"
        assert "times the floor" in table, f"no epoch line against the floor:\n{table[:3000]}"


def _is_number(word):
    try:
        float(word)
    except ValueError:
        return False
    return True
