"""Benchmark: batch-1 ``generate`` latency through ``tfgen serve`` on a reused vs a new connection.

Start a server first, for example on a tiny VAE export::

    python -c "import tfgen; tfgen.export_saved_model(tfgen.VAE(input_shape=(16, 16, 1), latent_dim=4, \\
        architecture='mlp', hidden_units=16, seed=0), '/tmp/ka_export/vae', version=1)"
    python -m tfgen serve --model-base-path /tmp/ka_export/vae --port 8611 &
    python -m benchmarks.serving_keepalive --port 8611 --model vae --latent-dim 4

It sends ``--requests`` predict requests of one latent vector, alternating a
request on one kept-alive ``http.client`` connection with one on a fresh
connection, and prints the median latency of each.
"""

import argparse
import http.client
import json
import statistics
import time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--model", default="vae")
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args(argv)
    body = json.dumps({"signature_name": "generate", "instances": [[0.1] * args.latent_dim]})
    path = f"/v1/models/{args.model}:predict"

    def once(connection):
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"the server answered {response.status}")

    reused = http.client.HTTPConnection(args.host, args.port, timeout=60)
    once(reused)  # warm-up
    reused_seconds, fresh_seconds = [], []
    for _ in range(args.requests):
        start = time.perf_counter()
        once(reused)
        reused_seconds.append(time.perf_counter() - start)
        start = time.perf_counter()
        fresh = http.client.HTTPConnection(args.host, args.port, timeout=60)
        once(fresh)
        fresh.close()
        fresh_seconds.append(time.perf_counter() - start)
    print(
        f"batch-1 generate, median of {args.requests}: reused connection "
        f"{1000 * statistics.median(reused_seconds):.2f} ms, new connection {1000 * statistics.median(fresh_seconds):.2f} ms"
    )


if __name__ == "__main__":
    main()
