"""Benchmark: peak resident memory of `tfgen serve` while it decodes one large predict body.

Starts `tfgen serve` (REST only) on a fresh 28x28 VAE export, sends a small
request, then 32 MiB bodies whose instances are one-pixel lists (``[0.5]``)
and empty lists (``[]``), the shapes that cost ``json.loads`` the most (each
is refused afterwards for its batch size, so only decoding is measured), and
reads the server's peak resident memory (``VmHWM``) from ``/proc`` after each.

    python -m benchmarks.serving_memory --output benchmarks/results/serving_memory.json
"""

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BODY_BYTES = 32 * 2**20 - 100


def _memory_mib(pid, field):
    with open(f"/proc/{pid}/status") as handle:
        return int(handle.read().split(field + ":")[1].split()[0]) / 1024


def _post(port, body):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    start = time.perf_counter()
    connection.request("POST", "/v1/models/vae:predict", body)
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    return response.status, time.perf_counter() - start, answer.get("error", "")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    import tfgen
    from benchmarks.common import machine

    root = tempfile.mkdtemp(prefix="serving_memory_")
    vae = tfgen.VAE(input_shape=(28, 28, 1), latent_dim=4, base_filters=8, hidden_units=32, seed=0)
    tfgen.export_saved_model(vae, os.path.join(root, "vae"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "tfgen", "serve", "--model-base-path", os.path.join(root, "vae"), "--port", str(port),
         "--no-grpc"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        small = json.dumps({"signature_name": "encode", "instances": [[[[0.5]] * 28] * 28] * 4}).encode()
        for _ in range(240):
            try:
                status = _post(port, small)[0]
                break
            except OSError:
                time.sleep(0.5)
        rows = [{"request": "4 images", "body_mib": len(small) / 2**20, "status": status,
                 "peak_rss_after_mib": _memory_mib(server.pid, "VmHWM")}]
        for name, element in [("one-pixel lists", b"[0.5]"), ("empty lists", b"[]")]:
            body = b'{"signature_name": "encode", "instances": [' + b",".join(
                [element] * (BODY_BYTES // (len(element) + 1))) + b"]}"
            before = _memory_mib(server.pid, "VmHWM")
            status, seconds, error = _post(port, body)
            after = _memory_mib(server.pid, "VmHWM")
            rows.append({"request": name, "body_mib": len(body) / 2**20, "status": status, "seconds": seconds,
                         "error": error[:80], "peak_rss_before_mib": before, "peak_rss_after_mib": after,
                         "peak_rise_per_body_byte": (after - before) / (len(body) / 2**20)})
        rows.append({"request": "4 images again", "status": _post(port, small)[0]})
    finally:
        server.terminate()
        server.wait()
    result = {"benchmark": "serving_memory", "command": "python -m benchmarks.serving_memory "
              + " ".join(argv if argv is not None else sys.argv[1:]), "rows": rows, "machine": machine()}
    print(json.dumps(result, indent=2))
    if args.output:
        with open(args.output, "w") as handle:
            json.dump(result, handle, indent=2)
    return result


if __name__ == "__main__":
    main()
