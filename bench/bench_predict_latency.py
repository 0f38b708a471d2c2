"""Milliseconds per ``POST /api/predict`` of the draw page, measured over real HTTP on loopback.

A draw server runs in this process on a free port; a client sends the same 280×280 drawing again and again on one
kept-alive connection, as the page does, once as JSON canvas pixels and once as a PNG. The table gives the median
and 90th percentile of the round trip, and the server's own share (preparing the digit and the forward pass).
Usage: ``python bench/bench_predict_latency.py [MODEL] [--requests 200]``; without MODEL, an untrained
784-128-10 network stands in (the latency does not depend on the weights).
"""
import argparse
import http.client
import io
import json
import statistics
import threading
import time

import numpy as np
from PIL import Image
from tabulate import tabulate

from nnscratch import Network
from nnscratch.app import DrawServer, DrawService
from nnscratch.serialization import load_model

SIDE = 280


def drawing():
    """A '4'-like drawing: three thick strokes of white on a black 280×280 canvas, grey values 0..255."""
    rows, columns = np.mgrid[0:SIDE, 0:SIDE]
    ink = (abs(columns - 90 + (rows - 40) * 0.2) < 11) & (rows > 40) & (rows < 160)
    ink |= (abs(rows - 160) < 11) & (columns > 60) & (columns < 220)
    ink |= (abs(columns - 180) < 11) & (rows > 50) & (rows < 250)
    return np.where(ink, 255, 0).astype(np.uint8)


def bodies(image):
    pixels = json.dumps({"width": SIDE, "height": SIDE, "pixels": image.reshape(-1).tolist()}).encode()
    buffer = io.BytesIO()
    Image.fromarray(image).convert("RGBA").save(buffer, format="PNG")  # as the browser's canvas.toBlob would
    return {"JSON pixels": (pixels, "application/json"), "PNG": (buffer.getvalue(), "image/png")}


def measure(port, body, content_type, requests, warmup=10):
    """Round-trip milliseconds and the server's own milliseconds for each request."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": content_type, "Host": f"127.0.0.1:{port}"}
    round_trips, server_side = [], []
    for index in range(warmup + requests):
        start = time.perf_counter()
        connection.request("POST", "/api/predict", body, headers)
        response = connection.getresponse()
        answer = json.loads(response.read())
        elapsed = (time.perf_counter() - start) * 1000
        if response.status != 200 or answer.get("status") != "ok":
            raise SystemExit(f"unexpected answer {response.status}: {answer}")
        if index >= warmup:
            round_trips.append(elapsed)
            server_side.append(answer["milliseconds"])
    connection.close()
    return round_trips, server_side


def percentile(values, fraction):
    return float(np.percentile(values, 100 * fraction))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="a model file (default: an untrained 784-128-10 network)")
    parser.add_argument("--requests", type=int, default=200, help="requests per body kind (default 200)")
    args = parser.parse_args()
    if args.model:
        model, metadata = load_model(args.model)
        name = args.model
    else:
        model, metadata, name = Network([784, 128, 10], activation="relu", output=None, rng=0), {}, "784-128-10"
    server = DrawServer(DrawService(model, metadata, name=name), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rows = []
    try:
        for kind, (body, content_type) in bodies(drawing()).items():
            round_trips, server_side = measure(server.port, body, content_type, args.requests)
            rows.append([kind, f"{len(body):,}", f"{statistics.median(round_trips):.2f}",
                         f"{percentile(round_trips, 0.9):.2f}", f"{statistics.median(server_side):.2f}"])
    finally:
        server.shutdown()
        server.server_close()
    print(f"POST /api/predict, model {name}, {args.requests} requests each, one kept-alive loopback connection\n")
    print(tabulate(rows, headers=["body", "bytes", "median ms", "p90 ms", "server median ms (prepare + forward)"],
                   tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
