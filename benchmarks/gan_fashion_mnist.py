"""Benchmark: the DCGAN on full Fashion-MNIST: speed, wall time, sample grids.

Trains ``tfgen.GAN`` (DCGAN networks for 28x28, latent_dim 64, Adam(2e-4,
beta_1=0.5) for both networks, EMA of the generator) on the 60k training
images with ``model.fit`` and prints

* training images per second (steady state: the epochs after the first,
  which includes tracing) and the wall time of training;
* the fast ``fashion_fd`` (Frechet distance on the shipped Fashion
  classifier's features) of 10k EMA samples against the 10k test images,
  after every ``--eval-every`` epochs, so the curve shows whether more
  epochs still help (FID of the saved model: ``benchmarks.quality_fashion_mnist
  --gan-model LOSS=PATH``);

and writes an 8x8 sample grid (EMA generator, fixed latent vectors) after
every epoch to ``--grid-dir``, the last one also to
``benchmarks/results/gan_fashion_mnist_<loss>.png``.

    python -m benchmarks.gan_fashion_mnist --epochs 20
    python -m benchmarks.gan_fashion_mnist --epochs 1 --steps-per-epoch 20   # smoke run

The trained model is saved to ``--save-model``; results go to stdout and, as
JSON, to ``benchmarks/results/gan_fashion_mnist_<loss>.json``.
"""

import argparse
import json
import os
import shutil
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import tfgen  # noqa: E402
from benchmarks.common import EpochTimer, machine  # noqa: E402
from tfgen.callbacks import SampleGrid  # noqa: E402
from tfgen.losses import GAN_LOSSES  # noqa: E402
from tfgen.metrics import frechet_fashion_distance  # noqa: E402
from tfgen.models.gan import GAN  # noqa: E402

TRAIN_IMAGES = 60000


class FashionDistance(keras.callbacks.Callback):
    """``fashion_fd`` of ``num_samples`` EMA samples against the test images every N epochs."""

    def __init__(self, real_images, num_samples, every_n_epochs, seed):
        super().__init__()
        self.real_images = real_images
        self.num_samples = num_samples
        self.every_n_epochs = every_n_epochs
        self.seed = seed
        self.curve = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            return
        fake = self.model.generate(self.num_samples, seed=self.seed)
        distance = frechet_fashion_distance(self.real_images[: self.num_samples], fake)
        self.curve.append({"epoch": epoch + 1, "fashion_fd": distance})
        print(f"epoch {epoch + 1}: fashion_fd {distance:.3f}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--steps-per-epoch", type=int, default=None, help="limit every epoch to this many batches")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--loss", default="non_saturating", choices=sorted(GAN_LOSSES))
    parser.add_argument("--gradient-penalty", type=float, default=None,
                        help="WGAN-GP weight (default: 10 for wasserstein, else 0)")
    parser.add_argument("--ema-decay", type=float, default=0.999)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-every", type=int, default=5, help="fashion_fd every N epochs (0: only at the end)")
    parser.add_argument("--eval-samples", type=int, default=10000)
    parser.add_argument("--grid-dir", default=os.path.join("benchmarks", "output", "gan_fashion_mnist"))
    parser.add_argument("--save-model", default=None,
                        help="default: benchmarks/output/gan_fashion_mnist_<loss>.keras")
    parser.add_argument("--output", default=None, help="default: benchmarks/results/gan_fashion_mnist_<loss>.json")
    args = parser.parse_args(argv)
    save_model = args.save_model or os.path.join("benchmarks", "output", f"gan_fashion_mnist_{args.loss}.keras")
    output = args.output or os.path.join("benchmarks", "results", f"gan_fashion_mnist_{args.loss}.json")
    gradient_penalty = args.gradient_penalty
    if gradient_penalty is None:
        gradient_penalty = 10.0 if args.loss == "wasserstein" else 0.0

    start = time.perf_counter()
    data = tfgen.data.load("fashion_mnist", batch_size=args.batch_size, seed=args.seed, drop_remainder=True)
    test_images, _ = tfgen.data.load_arrays("fashion_mnist", "test")
    gan = GAN(input_shape=(28, 28, 1), latent_dim=64, seed=args.seed)
    gan.compile(loss=args.loss, gradient_penalty=gradient_penalty, ema_decay=args.ema_decay or None)
    timer = EpochTimer()
    grid_dir = os.path.join(args.grid_dir, args.loss)
    grids = SampleGrid(grid_dir, num_samples=64, seed=args.seed)
    distance = FashionDistance(test_images, args.eval_samples, args.eval_every or args.epochs, args.seed)
    gan.fit(data, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
            callbacks=[timer, grids, distance], verbose=2)

    images_per_epoch = (args.steps_per_epoch or TRAIN_IMAGES // args.batch_size) * args.batch_size
    os.makedirs(os.path.dirname(save_model) or ".", exist_ok=True)
    gan.save(save_model)
    final_grid = os.path.join(os.path.dirname(output) or ".", f"gan_fashion_mnist_{args.loss}.png")
    shutil.copyfile(grids.written_paths[-1], final_grid)
    if not distance.curve or distance.curve[-1]["epoch"] != args.epochs:
        distance.on_epoch_end(args.epochs - 1)
    result = {
        "benchmark": "gan_fashion_mnist",
        "command": "python -m benchmarks.gan_fashion_mnist " + " ".join(argv if argv is not None else os.sys.argv[1:]),
        "loss": args.loss,
        "gradient_penalty": gradient_penalty,
        "ema_decay": args.ema_decay,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "images_per_epoch": images_per_epoch,
        "train_images_per_second": timer.steady_images_per_second(images_per_epoch),
        "epoch_seconds": [round(s, 1) for s in timer.seconds],
        "train_seconds": sum(timer.seconds),
        "fashion_fd": distance.curve,
        "final_d_loss": float(gan.d_loss_tracker.result()),
        "final_g_loss": float(gan.g_loss_tracker.result()),
        "model": save_model,
        "sample_grid": final_grid,
        "wall_seconds": time.perf_counter() - start,
        "machine": machine(),
    }
    print(json.dumps(result, indent=2))
    os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
    with open(output, "w") as handle:
        json.dump(result, handle, indent=2)
    return result


if __name__ == "__main__":
    main()
