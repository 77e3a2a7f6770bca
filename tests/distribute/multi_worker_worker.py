"""One worker of a two-process MultiWorkerMirroredStrategy run on 127.0.0.1.

Run by tests/distribute/test_multi_worker.py with TF_CONFIG set; trains
through the same function as `tfgen train` and saves its final weights.

    TF_CONFIG=... python tests/distribute/multi_worker_worker.py vae RUN_DIR EXPORT_DIR WEIGHTS.npz
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from tfgen.cli import train_lib  # noqa: E402

CONFIGS = {
    "vae": {"model": "vae", "latent_dim": 4, "base_filters": 8, "hidden_units": 32},
    "gan": {"model": "gan", "latent_dim": 8, "base_filters": 8, "gradient_penalty": 10.0, "ema_decay": 0.9},
}


def main(kind, output, export_dir, weights_path):
    config = dict(CONFIGS[kind])
    config.update(
        {
            "dataset": "digits", "epochs": 2, "steps_per_epoch": 3, "batch_size": 32, "seed": 5,
            "num_samples": 4, "strategy": "multi_worker", "output": output, "export_dir": export_dir,
            "verbose": 0,
        }
    )
    result, model = train_lib.train(config, return_model=True)
    np.savez(weights_path, *model.get_weights())
    print(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:5])
