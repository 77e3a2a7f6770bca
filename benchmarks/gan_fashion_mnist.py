"""Benchmark: a GAN recipe on Fashion-MNIST: speed, wall time, sample grids, fashion_fd.

Trains ``tfgen.GAN`` (by default the DCGAN networks for 28x28, latent_dim 64,
Adam(2e-4, beta_1=0.5) for both networks, EMA of the generator; the flags
below choose the architecture and the modern recipe: relativistic loss,
R1/R2, two-time-scale learning rates, EMA ramp-up, DiffAugment/ADA) on the
60k training images (or the first ``--train-images`` of them, for the
small-data comparison) with ``model.fit`` and prints

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
    # the modern recipe against the DCGAN for the same wall time (one thread each, side by side):
    python -m benchmarks.gan_fashion_mnist --tag dcgan --threads 1 --epochs 100 --steps-per-epoch 100 \
        --eval-every 5 --max-minutes 60
    python -m benchmarks.gan_fashion_mnist --tag resnet --threads 1 --architecture resnet --base-filters 16 \
        --loss relativistic --r1-penalty 0.2 --r2-penalty 0.2 --ema-rampup \
        --epochs 100 --steps-per-epoch 100 --eval-every 5 --max-minutes 60

``--max-minutes`` stops training at the end of the first batch past the
budget (and evaluates then), so recipes of different speed compare at equal
compute on the same machine.

The trained model is saved to ``--save-model``; results go to stdout and, as
JSON, to ``benchmarks/results/gan_fashion_mnist_<tag>.json`` (the tag
defaults to the loss).
"""

import argparse
import json
import os
import shutil
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfgen  # noqa: E402
from benchmarks.common import EpochTimer, machine, train_step_flops  # noqa: E402
from tfgen.callbacks import SampleGrid, TimeBudget  # noqa: E402
from tfgen.losses import GAN_LOSSES  # noqa: E402
from tfgen.metrics import frechet_fashion_distance  # noqa: E402
from tfgen.models.gan import GAN  # noqa: E402
from tfgen.models.gan_networks import ARCHITECTURES  # noqa: E402

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
        self.curve.append({"epoch": epoch + 1, "train_steps": int(self.model.step_counter.numpy()),
                           "fashion_fd": distance})
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
    parser.add_argument("--ema-rampup", action="store_true")
    parser.add_argument("--architecture", default="dcgan", choices=sorted(ARCHITECTURES))
    parser.add_argument("--base-filters", type=int, default=64)
    parser.add_argument("--latent-dim", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--d-learning-rate", type=float, default=None, help="default: --learning-rate")
    parser.add_argument("--beta-1", type=float, default=0.5)
    parser.add_argument("--r1-penalty", type=float, default=0.0)
    parser.add_argument("--r2-penalty", type=float, default=0.0)
    parser.add_argument("--penalty-interval", type=int, default=1, help="lazy R1/R2: one discriminator update in N")
    parser.add_argument("--augment", default="", help="DiffAugment policy, e.g. translation,cutout,color")
    parser.add_argument("--ada-target", type=float, default=None)
    parser.add_argument("--train-images", type=int, default=None, help="train on the first N training images only")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop training after this much wall time")
    parser.add_argument("--threads", type=int, default=None, help="TensorFlow intra- and inter-op threads")
    parser.add_argument("--tag", default=None, help="names the result files (default: the loss)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-every", type=int, default=5, help="fashion_fd every N epochs (0: only at the end)")
    parser.add_argument("--eval-samples", type=int, default=10000)
    parser.add_argument("--grid-dir", default=os.path.join("benchmarks", "output", "gan_fashion_mnist"))
    parser.add_argument("--save-model", default=None,
                        help="default: benchmarks/output/gan_fashion_mnist_<loss>.keras")
    parser.add_argument("--output", default=None, help="default: benchmarks/results/gan_fashion_mnist_<loss>.json")
    args = parser.parse_args(argv)
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    tag = args.tag or args.loss
    save_model = args.save_model or os.path.join("benchmarks", "output", f"gan_fashion_mnist_{tag}.keras")
    output = args.output or os.path.join("benchmarks", "results", f"gan_fashion_mnist_{tag}.json")
    gradient_penalty = args.gradient_penalty
    if gradient_penalty is None:
        gradient_penalty = 10.0 if args.loss == "wasserstein" else 0.0

    start = time.perf_counter()
    # A subset repeats, so that every epoch has --steps-per-epoch steps; the full set ends each pass with a
    # shorter epoch (468 steps of 128 images per pass: 100, 100, 100, 100, 68 with --steps-per-epoch 100).
    data = tfgen.data.load("fashion_mnist", batch_size=args.batch_size, seed=args.seed, drop_remainder=True,
                           num_examples=args.train_images, repeat=bool(args.train_images and args.steps_per_epoch))
    test_images, _ = tfgen.data.load_arrays("fashion_mnist", "test")
    def build(r1_penalty, r2_penalty):
        model = GAN(input_shape=(28, 28, 1), latent_dim=args.latent_dim, architecture=args.architecture,
                    base_filters=args.base_filters, seed=args.seed)
        d_learning_rate = args.learning_rate if args.d_learning_rate is None else args.d_learning_rate
        model.compile(
            d_optimizer=keras.optimizers.Adam(d_learning_rate, beta_1=args.beta_1),
            g_optimizer=keras.optimizers.Adam(args.learning_rate, beta_1=args.beta_1),
            loss=args.loss, gradient_penalty=gradient_penalty, r1_penalty=r1_penalty, r2_penalty=r2_penalty,
            penalty_interval=args.penalty_interval,
            ema_decay=args.ema_decay or None, ema_rampup=args.ema_rampup, augment=args.augment,
            ada_target=args.ada_target,
        )
        return model

    gan = build(args.r1_penalty, args.r2_penalty)
    batch_shape = (args.batch_size, 28, 28, 1)
    step_flops = train_step_flops(gan, batch_shape)
    if args.penalty_interval > 1 and (args.r1_penalty or args.r2_penalty):
        # the traced step holds the penalties' branch; it runs on one step in penalty_interval
        without = train_step_flops(build(0.0, 0.0), batch_shape)
        step_flops = without + (step_flops - without) / args.penalty_interval
    print(f"train step: {step_flops / 1e9:.1f} GFLOP (batch {args.batch_size})", flush=True)
    timer = EpochTimer()
    budget = TimeBudget(args.max_minutes)
    grid_dir = os.path.join(args.grid_dir, tag)
    grids = SampleGrid(grid_dir, num_samples=64, seed=args.seed)
    distance = FashionDistance(test_images, args.eval_samples, args.eval_every or args.epochs, args.seed)
    gan.fit(data, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
            callbacks=[timer, budget, grids, distance], verbose=2)

    images_per_epoch = (args.steps_per_epoch or (args.train_images or TRAIN_IMAGES) // args.batch_size) * args.batch_size
    train_steps = int(gan.step_counter.numpy())
    os.makedirs(os.path.dirname(save_model) or ".", exist_ok=True)
    gan.save(save_model)
    final_grid = os.path.join(os.path.dirname(output) or ".", f"gan_fashion_mnist_{tag}.png")
    shutil.copyfile(grids.written_paths[-1], final_grid)
    last_epoch = len(timer.seconds)
    if not distance.curve or distance.curve[-1]["epoch"] != last_epoch:
        distance.every_n_epochs = 1
        distance.on_epoch_end(last_epoch - 1)
    result = {
        "benchmark": "gan_fashion_mnist",
        "command": "python -m benchmarks.gan_fashion_mnist " + " ".join(argv if argv is not None else os.sys.argv[1:]),
        "tag": tag,
        "loss": args.loss,
        "gradient_penalty": gradient_penalty,
        "ema_decay": args.ema_decay,
        "recipe": {key: getattr(args, key) for key in (
            "architecture", "base_filters", "latent_dim", "learning_rate", "d_learning_rate", "beta_1",
            "r1_penalty", "r2_penalty", "penalty_interval", "ema_rampup", "augment", "ada_target", "train_images", "threads")},
        "max_minutes": args.max_minutes,
        "stopped_by_time_budget": budget.stopped_early,
        "epochs": args.epochs,
        "epochs_run": last_epoch,
        "train_steps": train_steps,
        "images_seen": train_steps * args.batch_size,
        "train_step_gflop": step_flops / 1e9,
        "train_pflop": step_flops * train_steps / 1e15,
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
