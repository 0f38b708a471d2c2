"""Training under the page against the command line, and the page under load, measured over real HTTP.

Three measurements, each with a page server of its own (``nnscratch draw`` in a subprocess, in a scratch folder)
and this process playing the browser (an event stream read to the end, and the weights fetched at every new
version, as the Train view does):

1. **Epoch time**, page against ``nnscratch train`` (a subprocess too), interleaved runs of the same settings and
   seed; the figure is the ``seconds`` of each epoch record (the same clock both ways).
2. **Start to first curve point**: from ``POST /api/train`` to the first ``tick`` that carries a batch loss.
3. **Load**: while a run trains, ``--streams`` clients hold event streams open and ``--posters`` clients post
   drawings to ``/api/predict`` for ``--seconds``; every request must succeed, the server's log must stay free of
   errors, the run's saved weights must equal an undisturbed run's; the predict latency's percentiles are
   reported.

Usage: ``python bench/bench_page_train.py [--preset mlp] [--train-size 20000] [--rounds 2] [--seconds 30]``.
The machine should be otherwise idle for the epoch times to mean much.
"""
import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from bench_predict_latency import drawing  # noqa: E402

PYTHON = sys.executable


class PageServer:
    """``nnscratch draw [MODEL]`` in a scratch folder, on a free port; ``log`` collects its stderr."""

    def __init__(self, folder, model=None):
        self.folder = folder
        arguments = [PYTHON, "-m", "nnscratch", "draw", "--port", "0", *([model] if model else [])]
        self.process = subprocess.Popen(arguments, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        line = ""
        while "http://" not in line:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"the page server did not start: {self.process.stderr.read()}")
        self.port = int(line.split("http://127.0.0.1:", 1)[1].split("/")[0])
        self.log = []
        threading.Thread(target=lambda: self.log.extend(self.process.stderr), daemon=True).start()

    def request(self, method, path, body=None, timeout=60):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            connection.request(method, path, None if body is None else json.dumps(body), headers)
            response = connection.getresponse()
            data = response.read()
            return response.status, data, response
        finally:
            connection.close()

    def close(self):
        self.process.terminate()
        self.process.wait(30)


class Watcher(threading.Thread):
    """One browser's worth of reading: the event stream to the run's end, and the weights at every new version.
    ``first_point`` is the time of the first tick that carries a loss; ``final`` the closing event."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server, self.first_point, self.final, self.ticks, self.failures = server, None, None, 0, []
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        connection.request("GET", "/api/train/events")
        self.response = connection.getresponse()
        if self.response.status != 200:
            self.failures.append(f"events: {self.response.status}")
        self.ready = threading.Event()

    def run(self):
        event, weights_version, started = None, 0, False
        for raw in self.response.fp:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                if event == "state" and data.get("run"):
                    started = True
                if not started:
                    continue
                if event == "tick":
                    self.ticks += 1
                    if self.first_point is None and data["losses"]:
                        self.first_point = time.perf_counter()
                    if data["weights_version"] != weights_version:
                        weights_version = data["weights_version"]
                        status = self.server.request("GET", "/api/train/weights")[0]
                        if status != 200:
                            self.failures.append(f"weights: {status}")
                if event in ("done", "stopped", "error"):
                    self.final = (event, data)
                    return


def page_run(folder, settings, model=None, load=None):
    """Train ``settings`` under a page server with a watcher; returns (epoch seconds, seconds to first point,
    closing event, saved model path, load report)."""
    server = PageServer(folder, model)
    try:
        watcher = Watcher(server)
        watcher.start()
        started = time.perf_counter()
        status, body, _ = server.request("POST", "/api/train", settings)
        if status != 202:
            raise RuntimeError(f"POST /api/train answered {status}: {body[:200]}")
        report = load(server) if load else None
        watcher.join(3600)
        event, data = watcher.final
        if event != "done":
            raise RuntimeError(f"the page's run ended with {event}: {data.get('message')}")
        history = json.loads(server.request("GET", "/api/train/history")[1])
        seconds = [record["seconds"] for record in history["history"]]
        errors = [line for line in server.log if "error" in line.lower() or "Traceback" in line]
        if watcher.failures or errors:
            raise RuntimeError(f"failures: {watcher.failures} {errors}")
        return seconds, watcher.first_point - started, data, os.path.join(folder, "models", data["model"]), report
    finally:
        server.close()


def cli_run(folder, settings):
    flags = [item for name, value in settings.items() for item in (f"--{name.replace('_', '-')}", str(value))]
    out = os.path.join(folder, "cli.npz")
    subprocess.run([PYTHON, "-m", "nnscratch", "train", *flags, "--out", out, "--quiet"], cwd=folder, check=True,
                   capture_output=True)
    with open(out[:-4] + ".history.json") as file:
        return [record["seconds"] for record in json.load(file)["history"]["epochs"]], out


def load_clients(seconds, streams, posters):
    """A function that, given a page server, runs the load for ``seconds`` and reports what it saw."""

    def load(server):
        stop, latencies, failures = threading.Event(), [], []
        payload = json.dumps({"width": 280, "height": 280, "pixels": drawing().reshape(-1).tolist()})

        def stream():
            try:
                connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
                connection.request("GET", "/api/train/events")
                response = connection.getresponse()
                if response.status != 200:
                    failures.append(f"events {response.status}")
                while not stop.is_set() and response.fp.readline():
                    pass
                connection.close()
            except OSError as error:
                failures.append(f"events: {error}")

        def post():
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    connection.request("POST", "/api/predict", payload, {"Content-Type": "application/json"})
                    response = connection.getresponse()
                    response.read()
                except OSError as error:
                    failures.append(f"predict: {error}")
                    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
                    continue
                latencies.append(time.perf_counter() - started)
                if response.status != 200:
                    failures.append(f"predict {response.status}")
            connection.close()

        threads = [threading.Thread(target=stream, daemon=True) for _ in range(streams)]
        threads += [threading.Thread(target=post, daemon=True) for _ in range(posters)]
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        stop.set()
        for thread in threads[streams:]:
            thread.join(60)
        return latencies, failures

    return load


def same_weights(first, second):
    from nnscratch.serialization import load_model
    a, b = load_model(first)[0].state_dict(), load_model(second)[0].state_dict()
    return all(np.array_equal(a[name], b[name]) for name in a)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="mlp")
    parser.add_argument("--train-size", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--posters", type=int, default=20)
    args = parser.parse_args()
    settings = {"preset": args.preset, "train_size": args.train_size, "epochs": args.epochs}
    with tempfile.TemporaryDirectory() as folder:
        page_epochs, cli_epochs, firsts = [], [], []
        for round_number in range(args.rounds):
            for where in ("cli", "page") if round_number % 2 == 0 else ("page", "cli"):
                if where == "cli":
                    seconds, cli_model = cli_run(folder, settings)
                    cli_epochs += seconds
                else:
                    seconds, first, data, page_model, _ = page_run(folder, settings)
                    page_epochs += seconds
                    firsts.append(first)
                print(f"round {round_number + 1} {where}: epochs {', '.join(f'{s:.2f}' for s in seconds)} s",
                      flush=True)
        cli_median, page_median = statistics.median(cli_epochs), statistics.median(page_epochs)
        print(f"\nepoch time ({args.preset}, {args.train_size} images): command line {cli_median:.2f} s, page "
              f"{page_median:.2f} s (median of {len(page_epochs)}); the page runs at "
              f"{100 * cli_median / page_median:.1f} % of the command line's speed")
        print(f"Start to first curve point: median {statistics.median(firsts):.2f} s, worst {max(firsts):.2f} s")
        print(f"the page's run has the command line's weights: {same_weights(cli_model, page_model)}")

        loaded = {**settings, "epochs": max(args.epochs, 1)}
        _, _, _, loaded_model, (latencies, failures) = page_run(
            folder, loaded, model=cli_model, load=load_clients(args.seconds, args.streams, args.posters))
        milliseconds = np.array(latencies) * 1000
        print(f"\nload: {args.streams} event streams and {args.posters} posting clients for {args.seconds:g} s: "
              f"{len(latencies)} predictions, {len(failures)} failed; predict latency median "
              f"{np.median(milliseconds):.1f} ms, p99 {np.percentile(milliseconds, 99):.1f} ms")
        if failures:
            print(f"failures: {failures[:5]}")
        print(f"the run under load has the undisturbed run's weights: {same_weights(loaded_model, page_model)}")


if __name__ == "__main__":
    main()
