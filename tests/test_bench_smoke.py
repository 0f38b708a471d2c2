"""The benchmarks run, on tiny sizes, so that they cannot rot between the times someone measures with them.
They print tables and never judge speed; here only their running to the end is checked."""
import os
import pathlib
import subprocess
import sys

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[1] / "bench"

SMOKE_RUNS = {
    "bench_mlp.py": ["--quick", "--repeats", "1", "--train-size", "512"],
    "bench_cnn.py": ["--repeats", "1", "--train-size", "256"],
    "bench_memory.py": ["--steps", "2", "--eval-size", "300"],
    "bench_data_cache.py": ["--small", "--repeat", "1"],
    "bench_predict_latency.py": ["--requests", "3"],
}


@pytest.mark.network  # they read MNIST
@pytest.mark.parametrize("script", sorted(SMOKE_RUNS))
def test_the_benchmark_runs_on_tiny_sizes(script):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(BENCH / script), *SMOKE_RUNS[script]], capture_output=True,
                            text=True, timeout=300, cwd=BENCH, env=env)
    assert result.returncode == 0, f"{script} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    assert result.stdout.strip(), f"{script} printed nothing"


def test_every_benchmark_has_a_smoke_run():
    scripts = {path.name for path in BENCH.glob("bench_*.py")}
    covered = set(SMOKE_RUNS) | {"bench_photos.py", "bench_explain.py", "bench_sweep.py", "bench_page_train.py"}
    assert scripts <= covered, f"benchmarks without a smoke run: {sorted(scripts - covered)}"
