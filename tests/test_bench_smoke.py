"""The benchmarks run, on tiny sizes, so that they cannot rot between the times someone measures with them.
They print tables and never judge speed; here only their running to the end is checked."""
import os
import pathlib
import subprocess
import sys

import pytest

from nnscratch import Network
from nnscratch.serialization import save_model

BENCH = pathlib.Path(__file__).resolve().parents[1] / "bench"

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
