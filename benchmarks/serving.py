"""Benchmark: generating images through ``tfgen serve`` against the SavedModel in-process.

Exports a VAE (by default the CLI's Fashion-MNIST architecture, 28x28x1,
latent_dim 16, untrained: speed does not depend on the weights) or uses an
existing export, starts ``python -m tfgen serve`` on a free loopback port,
and for each batch size (1 and 64 images by default) measures, in the same
run:

* ``in-process``: ``tf.saved_model.load(...).signatures["generate"]`` called
  directly, the output converted to NumPy;
* ``tfgen serve``: ``tfgen.serving.Client.generate`` (JSON over HTTP with
  ``urllib``, one connection per request, NumPy out), and
  ``Client.generate_png`` (PNG files out);
* ``keep-alive``: the same ``generate`` request as raw JSON over one
  ``http.client`` connection per client thread, reused for every request (as
  curl, ``requests.Session`` and most HTTP clients do);

printing requests per second and the p50/p99 latency of each.

    python -m benchmarks.serving --requests 200
    python -m benchmarks.serving --model-base-path saved_models/vae_fashion_mnist --concurrency 4
    python -m benchmarks.serving --batch-sizes 1 --idle-connections 1000   # does a crowd of idle clients slow the others?

Results go to stdout and, as JSON, to ``benchmarks/results/serving.json``.
"""

import argparse
import concurrent.futures
import gc
import http.client
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfgen  # noqa: E402
from tfgen.cli.model_io import resolve_saved_model_dir  # noqa: E402
from tfgen.serving import Client  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start_server(base_path, log_dir, timeout=300):
    """Starts ``tfgen serve --port 0``; returns ``(process, url)`` once it answers."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO_ROOT)
    stdout = open(os.path.join(log_dir, "serve.stdout"), "w+")
    stderr = open(os.path.join(log_dir, "serve.stderr"), "w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "tfgen", "serve", "--model-base-path", base_path, "--port", "0", "--no-grpc"],
        stdout=stdout, stderr=stderr, env=env,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(stdout.name) as handle:
            match = re.search(r"at (http://[^/\s]+)/v1/models/", handle.read())
        if match:
            return process, match.group(1)
        if process.poll() is not None:
            with open(stderr.name) as handle:
                raise RuntimeError(f"tfgen serve exited with {process.returncode}:\n{handle.read()[-3000:]}")
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"tfgen serve did not start within {timeout} s")


def measure(call, num_requests, concurrency, warmup=5):
    """Runs ``call()`` ``num_requests`` times from ``concurrency`` threads.

    Returns:
        ``{"requests", "requests_per_second", "p50_ms", "p99_ms"}``.
    """
    for _ in range(warmup):
        call()

    def timed(_):
        start = time.perf_counter()
        call()
        return time.perf_counter() - start

    start = time.perf_counter()
    if concurrency == 1:
        latencies = [timed(i) for i in range(num_requests)]
    else:
        with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
            latencies = list(pool.map(timed, range(num_requests)))
    wall = time.perf_counter() - start
    p50, p99 = np.percentile(np.asarray(latencies) * 1000.0, [50, 99])
    return {
        "requests": num_requests,
        "requests_per_second": round(num_requests / wall, 1),
        "p50_ms": round(float(p50), 2),
        "p99_ms": round(float(p99), 2),
    }


def keep_alive_generate(url, model_name, latent):
    """A ``generate`` call over one reused ``http.client`` connection per thread; returns the answer's bytes."""
    address = urllib.parse.urlsplit(url)
    body = json.dumps({"signature_name": "generate", "inputs": {"latent": latent.tolist()}})
    path = f"/v1/models/{model_name}:predict"
    local = threading.local()

    def call():
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        local.connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = local.connection.getresponse()
        answer = response.read()
        if response.status != 200:
            raise RuntimeError(f"tfgen serve answered {response.status}: {answer[:200]!r}")
        return answer

    return call


def measure_with_idle_connections(url, client, model_name, latent_dim, args):
    """Batch-1 ``generate`` (fresh and kept-alive connections) while ``args.idle_connections`` sockets sit idle.

    Each idle socket is connected and has sent nothing, as a client that
    opened a connection and went quiet; the server holds them for its idle
    timeout. The rows are marked with ``idle_connections``.
    """
    address = urllib.parse.urlsplit(url)
    latent = np.random.default_rng(1).standard_normal((1, latent_dim)).astype("float32")
    calls = {
        "tfgen serve": lambda: client.generate(latent=latent),
        "keep-alive": keep_alive_generate(url, model_name, latent),
    }
    # Without, then with the idle connections, back to back: the pair compares like with like.
    rows = [dict(path=path, signature="generate", images=1, idle_connections=0,
                 **measure(call, args.requests, args.concurrency)) for path, call in calls.items()]
    idle = [socket.create_connection((address.hostname, address.port), timeout=60)
            for _ in range(args.idle_connections)]
    try:
        rows += [dict(path=path, signature="generate", images=1, idle_connections=len(idle),
                      **measure(call, args.requests, args.concurrency)) for path, call in calls.items()]
    finally:
        for connection in idle:
            connection.close()
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-base-path", default=None, help="an existing export base directory (default: export a fresh VAE)")
    parser.add_argument("--image-size", type=int, default=28, help="side of the fresh VAE's square grey images (default: 28)")
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 64], help="images per request (default: 1 64)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per measurement (default: 200)")
    parser.add_argument("--concurrency", type=int, default=1, help="client threads (default: 1)")
    parser.add_argument("--idle-connections", type=int, default=0,
                        help="then measure batch 1 again with this many idle connections open (default: 0)")
    parser.add_argument("--output", default=os.path.join("benchmarks", "results", "serving.json"))
    args = parser.parse_args(argv)

    workdir = tempfile.mkdtemp(prefix="tfgen-serving-bench-")
    if args.model_base_path is None:
        vae = tfgen.VAE(input_shape=(args.image_size, args.image_size, 1), latent_dim=args.latent_dim, seed=0)
        base_path = os.path.join(workdir, "vae")
        tfgen.export_saved_model(vae, base_path)
        model = (f"fresh tfgen.VAE {args.image_size}x{args.image_size}x1, latent_dim {args.latent_dim}, "
                 "base_filters 32, hidden_units 256 (CLI defaults), untrained")
    else:
        base_path = args.model_base_path
        model = f"export {resolve_saved_model_dir(base_path)}"
    model_name = os.path.basename(os.path.normpath(base_path))
    version_dir = resolve_saved_model_dir(base_path)
    loaded = tf.saved_model.load(version_dir)
    generate = loaded.signatures["generate"]
    latent_dim = int(generate.structured_input_signature[1]["latent"].shape[1])

    # Like the server, keep TensorFlow's half a million start-up objects out
    # of the cyclic GC's scans; else parsing a 64-image JSON answer here
    # triggers full collections that cost more than the request itself.
    gc.collect()
    gc.freeze()
    process, url = start_server(base_path, workdir)
    try:
        client = Client(url, model_name)
        rows = []
        for batch_size in args.batch_sizes:
            latent = np.random.default_rng(batch_size).standard_normal((batch_size, latent_dim)).astype("float32")
            latent_tensor = tf.constant(latent)
            calls = {
                ("in-process", "generate"): lambda: generate(latent=latent_tensor)["images"].numpy(),
                ("tfgen serve", "generate"): lambda: client.generate(latent=latent),
                ("tfgen serve", "generate_png"): lambda: client.generate_png(latent=latent),
                ("keep-alive", "generate"): keep_alive_generate(url, model_name, latent),
            }
            for (path, signature), call in calls.items():
                result = measure(call, args.requests, args.concurrency)
                rows.append(dict(path=path, signature=signature, images=batch_size, **result))
        if args.idle_connections:
            rows += measure_with_idle_connections(url, client, model_name, latent_dim, args)
    finally:
        process.terminate()
        process.wait(timeout=60)

    header = {
        "model": model,
        "concurrency": args.concurrency,
        "tensorflow": tf.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    print(f"model: {model}")
    print(f"client threads: {args.concurrency}; TensorFlow {tf.__version__}; {os.cpu_count()} CPUs; "
          f"load average at end {header['load_average_at_end']}")
    print(f"{'path':<12} {'signature':<13} {'images':>6} {'idle':>5} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for row in rows:
        print(f"{row['path']:<12} {row['signature']:<13} {row['images']:>6} {row.get('idle_connections', 0):>5} "
              f"{row['requests']:>8} {row['requests_per_second']:>8} {row['p50_ms']:>8} {row['p99_ms']:>8}")
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    with open(args.output, "w") as handle:
        json.dump({**header, "results": rows}, handle, indent=2)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
