"""A sweep on a real PostgreSQL server, as workers on several machines would share one: the test starts a
throwaway cluster (initdb in a temporary folder, pg_ctl on a free loopback port, as an unprivileged user since
PostgreSQL refuses to run as root), runs one study from two processes against it, reads the table, and stops
and removes the cluster. Skipped, saying why, where Debian's ``postgresql`` package is not installed."""
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile

import pytest

optuna = pytest.importorskip("optuna", reason="sweeps need Optuna: pip install nnscratch[sweep]")
psycopg2 = pytest.importorskip("psycopg2", reason="the PostgreSQL driver is missing: pip install nnscratch[sweep]")

BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
LINES = ["--preset", "lines", "--train-size", "300", "--validation-size", "200", "--batch-size", "5",
         "--epochs", "2"]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """The URL of a fresh PostgreSQL cluster on a loopback port, for this file's tests (each uses its own study);
    stopped and removed afterwards."""
    if not BINARIES:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql): no /usr/lib/postgresql/*/bin")
    binaries = BINARIES[-1]
    as_user = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
    folder = tempfile.mkdtemp(prefix="nnscratch-postgres-")
    data = os.path.join(folder, "data")
    if as_user:
        shutil.chown(folder, "nobody")
    port = free_port()

    def command(*args):
        return subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=120, cwd=folder)

    try:
        made = command(f"{binaries}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        assert made.returncode == 0, f"initdb failed: {made.stderr}"
        started = command(f"{binaries}/pg_ctl", "-D", data, "-l", os.path.join(folder, "log"), "-w", "-o",
                          f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start")
        assert started.returncode == 0, f"pg_ctl start failed: {started.stderr} {started.stdout}"
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        command(f"{binaries}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def test_two_processes_share_one_study_on_postgresql(postgres, tmp_path):
    # Trials long enough (about a second each) that neither process can finish all eight before the other starts.
    flags = [*LINES, "--train-size", "20000", "--param", "lr=loguniform:1e-3:1e-1", "--param", "hidden=choice:4,8",
             "--trials", "8", "--workers", "1", "--storage", postgres, "--study", "machines", "--pruner", "none"]
    processes = [subprocess.Popen([sys.executable, "-m", "nnscratch", "sweep", *flags, "--out",
                                   str(tmp_path / f"machine-{index}")], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for index in range(2)]
    outputs = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    with psycopg2.connect(postgres) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT t.number, t.state, EXISTS (SELECT 1 FROM trial_user_attributes a WHERE "
                       "a.trial_id = t.trial_id AND a.key = 'surplus') FROM trials t JOIN studies s ON "
                       "s.study_id = t.study_id WHERE s.study_name = 'machines' ORDER BY t.number")
        rows = cursor.fetchall()
        # Both processes may start a trial at the same moment when one is left: the later one finds the total
        # reached, is marked surplus and failed, and does not count.
        table = [state for _, state, surplus in rows if not surplus]
        surplus = [state for _, state, surplus in rows if surplus]
        cursor.execute("SELECT count(DISTINCT a.value_json) FROM trial_user_attributes a JOIN trials t "
                       "ON t.trial_id = a.trial_id WHERE a.key = 'worker'")
        workers = cursor.fetchone()[0]
    assert table == ["COMPLETE"] * 8 and set(surplus) <= {"FAIL"}, rows
    assert workers == 2, f"expected trials from both processes, got {workers} worker(s)"
    for index in range(2):
        assert (tmp_path / f"machine-{index}" / "trials.csv").exists()
    shown = subprocess.run([sys.executable, "-m", "nnscratch", "sweep", "status", "--storage", postgres, "--study",
                            "machines"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "Trials: 8 complete" in shown.stdout, shown.stdout + shown.stderr


def test_a_study_on_postgresql_with_another_search_space_is_refused(postgres, tmp_path):
    common = [*LINES, "--trials", "1", "--workers", "1", "--storage", postgres, "--study", "one", "--out",
              str(tmp_path)]
    first = subprocess.run([sys.executable, "-m", "nnscratch", "sweep", *common, "--param", "lr=uniform:0.01:0.1"],
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    second = subprocess.run([sys.executable, "-m", "nnscratch", "sweep", *common, "--param", "seed=int:0:3"],
                            capture_output=True, text=True, timeout=120)
    assert second.returncode == 2 and "exists with another search space" in second.stderr, second.stderr
