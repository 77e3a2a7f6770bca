"""Writes the walkthrough notebooks in this folder, and optionally runs them.

The notebooks are generated from the cell texts below, so that they stay
reviewable as plain Python and consistent with one another:

    python notebooks/build.py                 # write the .ipynb files, without outputs
    python notebooks/build.py --execute       # write them and run each in full mode (commits these)
    python notebooks/build.py --execute 02_gan --mode small   # one notebook, small mode
    python notebooks/build.py --keep-outputs  # after editing only markdown cells

Executing runs every notebook top to bottom with nbclient in a temporary
working directory (everything they write goes to a fresh directory from
``tfgen.notebook.output_dir``), then stores the outputs in the ``.ipynb``.
``tests/notebooks/test_notebooks.py`` executes the same files in small mode.
"""

import argparse
import os
import sys
import tempfile
import textwrap
import time

import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))
KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}
CELL_TIMEOUT_SECONDS = 1800


def md(*parts):
    """A markdown cell; each part is dedented on its own, parts are separated by a blank line."""
    return nbformat.v4.new_markdown_cell("\n\n".join(textwrap.dedent(part).strip() for part in parts))


def code(text):
    return nbformat.v4.new_code_cell(textwrap.dedent(text).strip())


def setup_cell(name, extra_imports=()):
    """The first code cell of a notebook: imports, mode, run directory."""
    lines = [
        "import os",
        "import warnings",
        'os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")   # keep TensorFlow\'s C++ log out of the outputs',
        "# Keras warns that fit's default shuffle=True does not apply to a tf.data pipeline (ours shuffle themselves).",
        'warnings.filterwarnings("ignore", message="`shuffle=True` was passed")',
        "",
        "import numpy as np",
        "import keras",
        "import tensorflow as tf",
        "from IPython.display import Image, display",
        "",
        "import tfgen",
        "from tfgen import notebook, plotting",
        *extra_imports,
        "",
        'MODE = notebook.mode()                        # "full", or "small" with TFGEN_NOTEBOOK_MODE=small',
        f'RUN_DIR = notebook.output_dir("{name}")       # a fresh directory for everything this notebook writes',
        'print(f"mode: {MODE}\\nwriting to: {RUN_DIR}")',
    ]
    return nbformat.v4.new_code_cell("\n".join(lines))


MODE_NOTE = """
*Full and small mode.* Sizes (epochs, steps, image counts) come from
`notebook.setting(full=..., small=...)`. The committed notebook shows the
**full** mode; the test suite runs it with `TFGEN_NOTEBOOK_MODE=small`, where
every number shrinks so the whole notebook runs in seconds (and its pictures
are noise). Everything the notebook writes goes to a fresh directory
(`notebook.output_dir`), never into the repository.
"""

FASHION_CLASSES = (
    'CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",\n'
    '                       "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]   # Fashion-MNIST labels 0..9'
)


# ---------------------------------------------------------------------------
# 01: the VAE
# ---------------------------------------------------------------------------

VAE = [
    md(
        """
        # 1. A variational autoencoder on Fashion-MNIST

        This notebook trains `tfgen.VAE` and looks inside it: the data, the
        encoder, the reparameterised sampling layer, the decoder and the loss;
        then training with plain `model.fit`, reconstructions, samples, a walk
        through latent space, the 2-D latent space of a `latent_dim=2` model,
        and the importance-weighted (IWAE) estimate of the log-likelihood.
        """,
        MODE_NOTE,
    ),
    setup_cell("01_vae"),
    md(
        """
        ## Data

        `tfgen.data.load` returns a batched `tf.data.Dataset` of float32
        images in [-1, 1]. Fashion-MNIST is read from the original files on
        disk (nothing is downloaded). With `binarize=True` every pixel becomes
        1 with probability `(x + 1) / 2` and -1 otherwise, redrawn on every
        pass over the data (*dynamic binarisation*): the Bernoulli likelihood
        we use below models binary pixels, and fresh draws each epoch act as
        data augmentation. `load_arrays` gives the raw uint8 arrays, handy for
        picking particular test images.
        """
    ),
    code(
        f"""
        {FASHION_CLASSES}
        BATCH_SIZE = 128
        train = tfgen.data.load("fashion_mnist", batch_size=BATCH_SIZE, binarize=True, seed=0,
                                num_examples=notebook.setting(full=None, small=256))
        validation = tfgen.data.load("fashion_mnist", split="test", batch_size=500, binarize=True, seed=1,
                                     num_examples=notebook.setting(full=2000, small=100))

        test_pixels, test_labels = tfgen.data.load_arrays("fashion_mnist", split="test")  # uint8, int64
        test_images = test_pixels.astype("float32") / 127.5 - 1.0                         # [-1, 1]
        print("test images:", test_images.shape, test_images.dtype, test_images.min(), test_images.max())

        batch = next(iter(train))                                    # one binarised training batch
        print("training batch:", batch.shape, "values:", np.unique(batch.numpy()))
        path = plotting.save_image_panels(
            {{"test images": test_images[:32], "a binarised training batch": batch[:32]}},
            os.path.join(RUN_DIR, "data.png"), num_rows=4)
        display(Image(filename=path))
        """
    ),
    md(
        """
        ## The model's parts

        `tfgen.VAE` holds two plain functional Keras models:

        * the **encoder** maps an image to the parameters of a diagonal
          Gaussian posterior `q(z|x)`: `z_mean` and `z_log_var`, each
          `[batch, latent_dim]`;
        * the **decoder** maps a latent vector `z` to one logit per pixel
          (Bernoulli likelihood), i.e. the parameters of `p(x|z)`.

        Both are sized from the image shape (two stride-2 convolutions for
        28x28). You can pass your own networks instead:
        `tfgen.VAE(encoder=E, decoder=D, latent_dim=...)`.
        """
    ),
    code(
        """
        LATENT_DIM = 16
        vae = tfgen.VAE(input_shape=(28, 28, 1), latent_dim=LATENT_DIM, likelihood="bernoulli", seed=0)
        vae.encoder.summary()
        vae.decoder.summary()
        """
    ),
    md(
        """
        ### Sampling: the reparameterisation trick

        Training needs gradients through a *random* draw `z ~ q(z|x)`. The
        `Sampling` layer writes the draw as a deterministic function of the
        encoder's outputs and independent noise,
        `z = z_mean + exp(z_log_var / 2) * noise` with `noise ~ N(0, I)`, so
        gradients flow to `z_mean` and `z_log_var`. In `train_step` the VAE
        draws the noise itself from its seed, the step number and the row of
        the global batch (`tfgen.random`), which makes runs reproducible and
        independent of the number of replicas (notebook 3).
        """
    ),
    code(
        """
        z_mean, z_log_var = vae.encode(test_images[:4])
        noise = tf.random.stateless_normal(z_mean.shape, seed=[0, 1])
        z = vae.sampling([z_mean, z_log_var], noise=noise)
        print(type(vae.sampling).__name__, "->", z.shape)
        print("z == z_mean + exp(z_log_var / 2) * noise:",
              np.allclose(z, z_mean + np.exp(0.5 * z_log_var) * noise, atol=1e-6))

        with tf.GradientTape() as tape:
            tape.watch(z_mean)
            z = vae.sampling([z_mean, z_log_var], noise=noise)
        print("dz/dz_mean is the identity:", np.allclose(tape.gradient(z, z_mean), 1.0))
        """
    ),
    md(
        """
        ### The loss

        Per image, in nats:

        `loss = -log p(x|z) + beta * KL(q(z|x) || N(0, I))`

        With `beta=1` this is the negative evidence lower bound (ELBO). The
        first term is the reconstruction loss (binary cross-entropy summed
        over the 784 pixels for the Bernoulli likelihood), the second keeps
        the posterior close to the prior so that decoding prior samples gives
        sensible images. Both are pure functions in `tfgen.losses`; this is
        the method `train_step` calls:
        """
    ),
    code(
        """
        import inspect
        print(inspect.getsource(tfgen.VAE._per_example_losses))

        # The same terms, computed by hand on a few test images with the untrained model.
        images = tf.constant(test_images[:8])
        z_mean, z_log_var = vae.encoder(images)
        logits = vae.decoder(vae.sampling([z_mean, z_log_var], noise=tf.zeros_like(z_mean)))
        reconstruction = tfgen.losses.bernoulli_reconstruction_loss(images, logits)
        kl = tfgen.losses.kl_divergence(z_mean, z_log_var)
        print("reconstruction [nats/image]:", np.round(reconstruction.numpy(), 1))
        print("KL             [nats/image]:", np.round(kl.numpy(), 2))
        print(f"untrained: about 784 * log(2) = {784 * np.log(2):.0f} nats, a coin flip per pixel")
        """
    ),
    md(
        """
        ## Training

        `compile` takes a Keras optimizer; `fit` runs the VAE's own
        `train_step` and reports the running means of `loss`,
        `reconstruction_loss` and `kl_loss` (and the same on the validation
        set). `tfgen.callbacks.SampleGrid` writes a grid of samples from
        fixed latent vectors after every epoch, so you can watch the model
        learn.
        """
    ),
    code(
        """
        EPOCHS = notebook.setting(full=2, small=1)
        vae.compile(optimizer=keras.optimizers.Adam(1e-3))
        samples_callback = tfgen.callbacks.SampleGrid(os.path.join(RUN_DIR, "samples"), num_samples=64, seed=1)
        history = vae.fit(train, validation_data=validation, epochs=EPOCHS,
                          callbacks=[samples_callback], verbose=2)

        path = plotting.save_loss_curves(history, os.path.join(RUN_DIR, "losses.png"))
        display(Image(filename=path))
        """
    ),
    md(
        """
        ## Reconstructions

        `vae.reconstruct(x)` decodes the posterior mean `z_mean` of each
        image: the VAE's best guess of the image after squeezing it through
        16 numbers. The decoder outputs the *mean* image (per-pixel
        probabilities mapped to [-1, 1]), so reconstructions look smoother
        than the binarised training data.
        """
    ),
    code(
        """
        originals = test_images[:32]
        path = plotting.save_reconstructions(originals, vae.reconstruct(originals),
                                             os.path.join(RUN_DIR, "reconstructions.png"), num_rows=4)
        display(Image(filename=path))
        """
    ),
    md(
        """
        ## Samples

        `vae.generate(n, seed=...)` decodes `n` draws from the prior
        `N(0, I)`. The same seed gives the same images. Below: the grids that
        `SampleGrid` wrote after each epoch, then a fresh set.
        """
    ),
    code(
        """
        for grid_path in samples_callback.written_paths:
            print(os.path.basename(grid_path))
            display(Image(filename=grid_path, width=300))
        path = plotting.save_image_grid(vae.generate(64, seed=2), os.path.join(RUN_DIR, "samples.png"),
                                        title="64 samples from the prior")
        display(Image(filename=path))
        """
    ),
    md(
        """
        ## A walk through latent space

        Encode two test images, interpolate between their posterior means and
        decode every point on the way: the images change gradually, because
        the KL term packs the codes of similar images close together. With
        `spherical=True` the path follows a great circle instead (its points
        keep a typical norm under the Gaussian prior).
        """
    ),
    code(
        """
        first_trouser = int(np.flatnonzero(test_labels == CLASS_NAMES.index("Trouser"))[0])
        first_sneaker = int(np.flatnonzero(test_labels == CLASS_NAMES.index("Sneaker"))[0])
        first_bag = int(np.flatnonzero(test_labels == CLASS_NAMES.index("Bag"))[0])
        for a, b in [(first_trouser, first_sneaker), (first_sneaker, first_bag)]:
            path = plotting.save_interpolation(
                vae, test_images[a], test_images[b], os.path.join(RUN_DIR, f"interpolation_{a}_{b}.png"),
                num_steps=10, title=f"{CLASS_NAMES[test_labels[a]]} -> {CLASS_NAMES[test_labels[b]]}")
            display(Image(filename=path))
        """
    ),
    md(
        """
        ## A two-dimensional latent space

        With `latent_dim=2` the whole latent space fits on a page. Each dot
        below is the posterior mean of one test image, coloured by its class:
        the VAE was never told the classes, yet similar garments land close
        together. Decoding a regular grid of points over the same square
        shows what each region of the space stands for.
        """
    ),
    code(
        """
        vae_2d = tfgen.VAE(input_shape=(28, 28, 1), latent_dim=2, likelihood="bernoulli", seed=0)
        vae_2d.compile(optimizer=keras.optimizers.Adam(1e-3))
        vae_2d.fit(train, epochs=notebook.setting(full=1, small=1), verbose=2)

        num_points = notebook.setting(full=5000, small=200)
        z_mean_2d, _ = vae_2d.encode(test_images[:num_points])
        path = plotting.save_latent_scatter(z_mean_2d, test_labels[:num_points],
                                            os.path.join(RUN_DIR, "latent_2d.png"),
                                            title="posterior means of test images", class_names=CLASS_NAMES)
        display(Image(filename=path))

        # Decode a 12 x 12 grid over [-3, 3]^2 (row 0 at the top: largest z[1]).
        values = np.linspace(-3.0, 3.0, 12)
        z_grid = np.array([[x, y] for y in values[::-1] for x in values], dtype="float32")
        path = plotting.save_image_grid(vae_2d.decode(z_grid), os.path.join(RUN_DIR, "latent_2d_grid.png"),
                                        num_rows=12, title="decoded grid over z in [-3, 3]^2")
        display(Image(filename=path))
        """
    ),
    md(
        """
        ## How likely are the test images? The IWAE bound

        The ELBO is a lower bound on `log p(x)`. Drawing `K` posterior samples
        per image and averaging their importance weights gives a tighter
        bound (Burda et al., 2016) that rises towards `log p(x)` as `K`
        grows; `K = 1` is the ELBO. `vae.log_likelihood(images, num_samples=K)`
        returns it per image, in nats. The images must be binary for a
        Bernoulli model, so we binarise a set of test images once, with a
        fixed seed. (The README's benchmark, 10 epochs and `K = 1000`, reaches
        about -232 nats; a short run here is some way behind.)
        """
    ),
    code(
        """
        num_images = notebook.setting(full=500, small=16)
        binary_test = next(iter(tfgen.data.load("fashion_mnist", split="test", batch_size=num_images,
                                                binarize=True, seed=1, num_examples=num_images)))
        for k in notebook.setting(full=(1, 10, 100), small=(1, 4)):
            log_px = vae.log_likelihood(binary_test, num_samples=k, seed=0)
            print(f"K = {k:4d}: log p(x) >= {log_px.mean():8.2f} nats per image  (over {num_images} test images)")
        """
    ),
    md(
        """
        ## Where next

        * Save and reload: `vae.save(path)` and `keras.models.load_model(path)`.
        * Notebook 4 exports this kind of model as a SavedModel and serves it;
          notebook 5 measures sample quality (FID, KID, precision/recall).
        * The same training from the command line:
          `python -m tfgen train vae --dataset fashion_mnist --epochs 3`.
        """
    ),
]


# ---------------------------------------------------------------------------
# 02: the GAN
# ---------------------------------------------------------------------------

GAN = [
    md(
        """
        # 2. Generative adversarial networks

        `tfgen.GAN` trains a generator against a discriminator with plain
        `model.fit`. This notebook explains its `train_step`, trains it on two
        2-D toy problems where we can *see* which modes of the data the
        generator covers, and then trains a class-conditional GAN on
        Fashion-MNIST: sample grids during training, the EMA generator
        against the raw one, and generation by class.
        """,
        MODE_NOTE,
    ),
    setup_cell("02_gan", ["from tfgen.data import mixtures", "from tfgen.metrics import mode_coverage"]),
    md(
        """
        ## What one training step does

        `GAN.train_step` runs `d_steps_per_g_step` discriminator updates and
        then one generator update:
        """
    ),
    code(
        """
        import inspect
        print(inspect.getsource(tfgen.GAN.train_step))
        """
    ),
    md(
        """
        * The discriminator update (`discriminator_step(examples, labels)` when
          called on its own) draws latent vectors, makes
          fakes with the generator (whose state is left untouched), computes
          the discriminator loss on real and fake examples (plus the gradient
          penalty or R1 penalty if enabled) and updates **only** the
          discriminator.
        * The generator update (`generator_step(batch_size, labels)` on its
          own) makes fresh fakes, asks the
          discriminator about them and updates **only** the generator (and
          the EMA copy of its weights, if enabled) to make the discriminator
          call them real.
        * The noise of row `i` at step `t` is a function of `(seed, t, i)`
          (`tfgen.random`), so runs are reproducible and replicas draw
          different noise. An update whose loss or gradients are not finite is
          skipped, and `fit` stops with a message.
        * The losses are pure functions from `tfgen.losses`, chosen by name:
          `non_saturating` (default), `minimax`, `hinge`, `wasserstein`,
          `least_squares`.

        The two halves are public methods, so we can check the first claim
        directly: one discriminator step changes the discriminator and
        nothing else, one generator step the reverse.
        """
    ),
    code(
        """
        toy_gan = tfgen.GAN(input_shape=(2,), latent_dim=16, seed=0)
        toy_gan.compile(loss="non_saturating")
        points = next(iter(tfgen.data.load("ring8", batch_size=64, seed=0)))

        def changed(network, before):
            return any(not np.array_equal(a, b) for a, b in zip(before, network.get_weights()))

        g_before, d_before = toy_gan.generator.get_weights(), toy_gan.discriminator.get_weights()
        results = toy_gan.discriminator_step(points)
        print("discriminator step:", {k: tuple(v.shape) for k, v in results.items()})
        print("  discriminator changed:", changed(toy_gan.discriminator, d_before),
              "| generator changed:", changed(toy_gan.generator, g_before))

        g_before, d_before = toy_gan.generator.get_weights(), toy_gan.discriminator.get_weights()
        results = toy_gan.generator_step(64)
        print("generator step:", {k: tuple(v.shape) for k, v in results.items()})
        print("  discriminator changed:", changed(toy_gan.discriminator, d_before),
              "| generator changed:", changed(toy_gan.generator, g_before))
        """
    ),
    md(
        """
        ## Mode coverage on 2-D mixtures

        `ring8` (8 Gaussians on the unit circle, std 0.01) and `grid25`
        (25 Gaussians on a 5x5 grid, std 0.05) are the classic tests of
        *mode collapse*: a generator that covers only some modes is easy to
        spot. `tfgen.metrics.mode_coverage` gives the standard figures: a
        sample is *high quality* when it lies within 3 standard deviations of
        its nearest mode, a mode is *captured* when it has at least one
        high-quality sample, and the KL divergence from uniform of the
        high-quality samples' histogram says how evenly they are spread
        (0 is perfect).

        Settings: MLPs of 3 x 256 units, batch 256, Adam with the learning
        rate cosine-decayed to 0 (the annealed end pulls the samples into the
        narrow modes), a small R1 penalty on the discriminator and an EMA
        generator. A `LambdaCallback` keeps samples at a few points of
        training.
        """
    ),
    code(
        """
        TOY_STEPS = notebook.setting(full=3000, small=60)
        SNAPSHOTS = 4
        coverage = {}
        for name in ["ring8", "grid25"]:
            data = tfgen.data.load(name, batch_size=256, seed=0, repeat=True, drop_remainder=True)
            gan = tfgen.GAN(input_shape=(2,), latent_dim=16, hidden_units=(256, 256, 256), seed=0)

            def optimizer():
                schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=TOY_STEPS)
                return keras.optimizers.Adam(schedule, beta_1=0.5)

            gan.compile(d_optimizer=optimizer(), g_optimizer=optimizer(), r1_penalty=0.3, ema_decay=0.99)
            steps_per_epoch = TOY_STEPS // SNAPSHOTS
            snapshots = {}
            keep = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.update(
                {f"step {(epoch + 1) * steps_per_epoch}": gan.generate(2000, seed=1).numpy()}))
            gan.fit(data, epochs=SNAPSHOTS, steps_per_epoch=steps_per_epoch, callbacks=[keep], verbose=0)

            means, std = mixtures.mixture_means(name), mixtures.mixture_std(name)
            path = plotting.save_point_panels(snapshots, os.path.join(RUN_DIR, f"{name}_training.png"),
                                              means=means, title=f"{name}: EMA generator samples (red: modes)")
            display(Image(filename=path))
            final = snapshots[f"step {SNAPSHOTS * steps_per_epoch}"]
            path = plotting.save_mode_coverage(final, means, std, os.path.join(RUN_DIR, f"{name}_coverage.png"),
                                               title=f"{name}, after {TOY_STEPS} steps")
            display(Image(filename=path))
            coverage[name] = {"EMA": mode_coverage(final, means, std),
                              "raw": mode_coverage(gan.generate(2000, seed=1, use_ema=False), means, std)}

        for name, rows in coverage.items():
            for generator, c in rows.items():
                print(f"{name:7s} {generator:4s}: {c['modes_captured']:2d}/{c['num_modes']} modes, "
                      f"{c['high_quality_fraction']:.1%} high quality, KL to uniform {c['kl_to_uniform']:.3f}")
        """
    ),
    md(
        """
        Early on the generator spreads its samples around and between the
        modes; as the learning rate anneals they contract onto them. In the
        full-mode run above, 3,000 steps cover the ring evenly, while on the
        grid of 25 many samples still lie between the modes and along the
        edges of the square (a low high-quality fraction) and a mode or two
        may be missing (red bars): the grid is the harder problem and needs
        longer training. `python -m benchmarks.mixtures` runs this for every
        loss over several seeds, with 16,000 steps of batch 512.

        ## A conditional GAN on Fashion-MNIST

        With `num_classes=10` both networks also take the class label (the
        generator draws a garment of the class it is asked for; the
        discriminator judges whether an image is a real example *of that
        class*), and batches are `(images, labels)`. We use the built-in
        DCGAN-style networks with `base_filters=32` (half the default width, to
        keep this quick on a CPU) and keep an exponential moving average (EMA)
        of the generator's weights. `SampleGrid` writes one row per class
        after every epoch, always from the same latent vectors. An "epoch"
        here is `steps_per_epoch` batches of a repeating stream.
        """
    ),
    code(
        f"""
        {FASHION_CLASSES}
        train = tfgen.data.load("fashion_mnist", batch_size=64, with_labels=True, seed=0, repeat=True,
                                drop_remainder=True, num_examples=notebook.setting(full=None, small=512))
        cgan = tfgen.GAN(input_shape=(28, 28, 1), latent_dim=64, num_classes=10, base_filters=32, seed=0)
        # A short run: an EMA decay of 0.99 averages over the last ~100 steps (0.999 suits long runs).
        cgan.compile(loss="non_saturating", ema_decay=0.99)

        EPOCHS = notebook.setting(full=8, small=2)
        STEPS_PER_EPOCH = notebook.setting(full=150, small=4)
        grids = tfgen.callbacks.SampleGrid(os.path.join(RUN_DIR, "cgan_samples"), num_samples=60, seed=1)
        history = cgan.fit(train, epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH, callbacks=[grids], verbose=2)
        """
    ),
    code(
        """
        for epoch in sorted({1, (EPOCHS + 1) // 2, EPOCHS}):
            print(f"after epoch {epoch} ({epoch * STEPS_PER_EPOCH} steps); rows are classes 0..9")
            display(Image(filename=grids.written_paths[epoch - 1], width=260))
        path = plotting.save_loss_curves(history, os.path.join(RUN_DIR, "cgan_losses.png"))
        display(Image(filename=path))
        """
    ),
    md(
        """
        The discriminator's and generator's losses do not fall together the
        way a classifier's loss does: each network's loss is the other's
        gain. Steady curves and accuracies away from 0 and 1 mean neither side
        has won; the pictures are the better guide to progress.

        ## EMA against raw generator

        The raw generator's weights jump around as it chases a moving
        discriminator; the EMA generator averages them over recent steps,
        which usually gives cleaner, more stable samples at no training cost.
        `generate` uses the EMA copy when the GAN was compiled with
        `ema_decay`; `use_ema=False` asks for the raw one. Same latent
        vectors and labels on both sides:
        """
    ),
    code(
        """
        labels = np.repeat(np.arange(10), 6)
        path = plotting.save_image_panels(
            {"raw generator": cgan.generate(60, seed=3, labels=labels, use_ema=False),
             "EMA generator": cgan.generate(60, seed=3, labels=labels)},
            os.path.join(RUN_DIR, "ema_vs_raw.png"), num_rows=10)
        display(Image(filename=path))
        """
    ),
    md(
        """
        ## Generation by class

        Ask for any class with `labels=`: below, 10 samples of each class
        (one row per class, fresh latent vectors).
        """
    ),
    code(
        """
        labels = np.repeat(np.arange(10), 10)
        path = plotting.save_image_grid(cgan.generate(100, seed=4, labels=labels),
                                        os.path.join(RUN_DIR, "by_class.png"), num_rows=10,
                                        title="one row per class")
        for label, name in enumerate(CLASS_NAMES):
            print(f"row {label}: {name}")
        display(Image(filename=path))
        """
    ),
    md(
        """
        A thousand steps with half-width networks give recognisable
        garments of the requested classes; the benchmark
        (`python -m benchmarks.gan_fashion_mnist`, full-width networks, tens
        of epochs) gets much further. Notebook 5 puts numbers on sample
        quality.
        """
    ),
]


# ---------------------------------------------------------------------------
# 03: distributed training
# ---------------------------------------------------------------------------

DISTRIBUTED = [
    md(
        """
        # 3. The same training on several devices

        tfgen models train under `tf.distribute` without code changes: create
        the model inside `strategy.scope()`, give `fit` batches of the
        *global* batch size. This notebook runs `MirroredStrategy` on two
        *logical* CPU devices (so it works on any machine), shows that the
        result equals training on one device, and then says what changes for
        GPUs and for several machines.

        **First cell first.** A physical CPU can be split into logical devices
        only before TensorFlow initialises its devices, i.e. before the first
        TensorFlow operation. So the very first code cell splits it; if you
        re-run the notebook, restart the kernel.
        """
    ),
    code(
        """
        import os
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

        import warnings
        warnings.filterwarnings("ignore", message="`shuffle=True` was passed")  # tf.data pipelines shuffle themselves

        import tensorflow as tf
        import tfgen

        devices = tfgen.distribute.split_cpu(2)          # before anything touches a device
        tf.config.experimental.enable_op_determinism()   # same kernels, same order: comparable runs
        tf.get_logger().setLevel("ERROR")                # MirroredStrategy logs every all-reduce it sets up
        print("logical devices:", devices)
        """
    ),
    code(
        """
        import numpy as np
        import keras
        from IPython.display import Image, display
        from tfgen import notebook, plotting

        MODE = notebook.mode()
        RUN_DIR = notebook.output_dir("03_distributed")
        print(f"mode: {MODE}\\nwriting to: {RUN_DIR}")
        """
    ),
    md(
        """
        ## Why the number of replicas does not matter

        `MirroredStrategy` keeps a copy of every variable on each device,
        splits each global batch between the replicas, and sums the gradients
        over replicas (an all-reduce) before every replica applies the same
        update. tfgen makes that equal to a single-device step:

        * losses are averaged over the **global** batch
          (`tfgen.distribute.global_mean`), so the summed gradients are those of
          the whole batch;
        * noise is drawn per **row of the global batch**: row `i` at step `t`
          gets the same noise whichever replica holds it;
        * the GAN's batch normalisation is synchronised across replicas;
        * reported metrics are global means.

        So one device and two replicas, from the same seed and the same
        batches, should end with the same weights up to float round-off.
        Let's check, for a VAE and for a GAN (with batch norm in the
        generator, an EMA generator and a gradient penalty), on the same
        `STEPS` global batches of Fashion-MNIST.
        """
    ),
    code(
        """
        GLOBAL_BATCH = 64
        STEPS = notebook.setting(full=60, small=3)

        # Both runs must see exactly the same global batches in the same order: read them once into an array
        # and batch it in order (as tests/distribute/test_equivalence.py does).
        images = np.concatenate([batch.numpy() for batch in tfgen.data.load(
            "fashion_mnist", batch_size=GLOBAL_BATCH, seed=0, drop_remainder=True, num_examples=GLOBAL_BATCH * STEPS)])

        def fashion_batches():
            return tf.data.Dataset.from_tensor_slices(images).batch(GLOBAL_BATCH)

        def build_vae():
            model = tfgen.VAE(input_shape=(28, 28, 1), latent_dim=8, likelihood="gaussian", seed=7)
            model.compile(optimizer=keras.optimizers.Adam(1e-3))
            return model

        def build_gan():
            model = tfgen.GAN(input_shape=(28, 28, 1), latent_dim=32, base_filters=16, seed=7)
            model.compile(gradient_penalty=10.0, ema_decay=0.9)
            return model

        BUILDERS = {"VAE": build_vae, "GAN": build_gan}
        initial_weights = {name: build().get_weights() for name, build in BUILDERS.items()}
        """
    ),
    md(
        """
        ### One device

        No strategy at all (the default strategy). This is ordinary training.
        """
    ),
    code(
        """
        one_device = {}
        for name, build in BUILDERS.items():
            model = build()
            history = model.fit(fashion_batches(), epochs=1, verbose=0)
            one_device[name] = (model, {k: v[-1] for k, v in history.history.items()})
            print(name, {k: round(float(v), 4) for k, v in one_device[name][1].items()})
        """
    ),
    md(
        """
        ### Two replicas

        `tfgen.distribute.get_strategy("mirrored", num_devices=2)` uses two
        GPUs when there are GPUs, else two logical CPU devices (the ones we
        made in the first cell). Only two lines change: the strategy, and
        building the model in its scope (so that its variables and optimizer
        state are mirrored).
        """
    ),
    code(
        """
        strategy = tfgen.distribute.get_strategy("mirrored", num_devices=2)
        print("replicas in sync:", strategy.num_replicas_in_sync)
        two_replicas = {}
        for name, build in BUILDERS.items():
            with strategy.scope():
                model = build()
            history = model.fit(fashion_batches(), epochs=1, verbose=0)
            two_replicas[name] = (model, {k: v[-1] for k, v in history.history.items()})
            print(name, {k: round(float(v), 4) for k, v in two_replicas[name][1].items()})
        """
    ),
    md(
        """
        ### Compare

        For every model: how far apart the two runs' weights are, relative
        to how far training moved them from their initial values (Euclidean
        norms over all weights), the largest single difference, and how much
        the reported metrics differ. Then samples from both, from the same
        latent vectors.
        """
    ),
    code(
        """
        def distance(weights_a, weights_b):
            return float(np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(weights_a, weights_b))))

        for name in BUILDERS:
            one, two = one_device[name][0].get_weights(), two_replicas[name][0].get_weights()
            relative = distance(one, two) / distance(one, initial_weights[name])
            largest = max(float(np.max(np.abs(a - b))) for a, b in zip(one, two) if a.size)
            log_difference = max(abs(float(one_device[name][1][k]) - float(two_replicas[name][1][k]))
                                 for k in one_device[name][1])
            samples_difference = float(np.max(np.abs(one_device[name][0].generate(16, seed=1)
                                                     - two_replicas[name][0].generate(16, seed=1))))
            print(f"{name}: |w1 - w2| / |w1 - w_initial| = {relative:.1e}; largest weight difference "
                  f"{largest:.1e}; metrics differ by at most {log_difference:.1e}; "
                  f"samples (in [-1, 1]) by at most {samples_difference:.1e}")

        panels = {}
        for name in BUILDERS:
            panels[f"{name}, 1 device"] = one_device[name][0].generate(16, seed=1)
            panels[f"{name}, 2 replicas"] = two_replicas[name][0].generate(16, seed=1)
        path = plotting.save_image_panels(panels, os.path.join(RUN_DIR, "one_vs_two.png"), num_rows=4)
        display(Image(filename=path))
        """
    ),
    md(
        """
        The two runs agree up to float round-off. The all-reduce adds the
        two halves of each batch in a different order than one device does,
        so gradients differ in their last digits; Adam divides every gradient
        by its own running scale, which turns last-digit differences of
        near-zero gradients into differences of up to about one learning
        rate (1e-3) in a few weights. Relative to how far training moved the
        weights, the runs differ by well under 1%, the reported metrics agree
        to several digits and the samples look the same.
        `tests/distribute/test_equivalence.py` checks equality to 1e-5 after
        a few steps (before such differences can grow) for 1, 2 and 4
        replicas on every commit. (Sixty steps are far too few for the GAN
        to draw garments, hence its grey samples: the point here is only
        that both runs agree.)

        One caveat for experiments like this one: two `MirroredStrategy`
        objects *of different sizes* in one process clash in TensorFlow's
        collective ops, so compare a one-device run against a mirrored one (as
        here), or run each replica count in its own process (as the test
        does).

        ## On GPUs

        Nothing in the code changes. `get_strategy("mirrored")` takes every
        local GPU (or `num_devices=N` of them); each replica gets
        `global batch / N` rows. Things to know:

        * **The batch size you give `tfgen.data.load` is the global batch.**
          To keep the per-GPU batch when adding GPUs, multiply it by the
          number of replicas (and consider raising the learning rate with
          it).
        * Keep the model and its `compile` inside `strategy.scope()`: tfgen
          builds every optimizer in `compile`, so their state is mirrored too.
        * Callbacks that write files (`SampleGrid`, checkpoints) run once, on
          the chief.

        ```python
        strategy = tfgen.distribute.get_strategy("mirrored")      # all local GPUs
        with strategy.scope():
            gan = tfgen.GAN(input_shape=(28, 28, 1), latent_dim=64, seed=0)
            gan.compile(ema_decay=0.999)
        gan.fit(tfgen.data.load("fashion_mnist", batch_size=128 * strategy.num_replicas_in_sync, seed=0),
                epochs=20)
        ```

        From the command line: `python -m tfgen train gan --strategy mirrored`
        (all GPUs) or `--strategy mirrored --devices 2` (two GPUs, or two
        logical CPU devices on a machine without GPUs).

        ## On several machines

        `MultiWorkerMirroredStrategy` does the same across machines. Each
        machine runs the **same program** with its own `TF_CONFIG`
        environment variable: the list of all workers and which one this is.
        Worker 0 is the chief: it writes the run directory and the export;
        the others write to temporary directories
        (`tfgen.distribute.is_chief`).
        """
    ),
    code(
        """
        import json

        cluster = {"worker": ["host1:12345", "host2:12345"]}
        for index in range(2):
            tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
            print(f"TF_CONFIG='{json.dumps(tf_config)}' \\\\\\n"
                  "  python -m tfgen train vae --strategy multi_worker --output runs/vae\\n")

        # Without TF_CONFIG, the multi-worker strategy says what it needs:
        try:
            tfgen.distribute.get_strategy("multi_worker")
        except ValueError as error:
            print("ValueError:", error)
        """
    ),
    md(
        """
        In Python the only change from the single-machine code is the
        strategy: `tfgen.distribute.get_strategy("multi_worker")` (it reads
        `TF_CONFIG`; with `num_devices=N` each worker also splits its CPU).
        Start it on every machine; training begins when all workers have
        connected. `tests/distribute/test_multi_worker.py` runs two workers on
        one machine over the loopback interface, and
        `tests/distribute/test_fault_tolerance.py` shows that a killed run
        resumes at the exact batch (`tfgen train` backs up weights, optimizer
        state and progress).
        """
    ),
]


# ---------------------------------------------------------------------------
# 04: export and serve
# ---------------------------------------------------------------------------

EXPORT = [
    md(
        """
        # 4. Export a model and serve it

        A trained model becomes a plain TensorFlow **SavedModel** with named
        signatures (`generate`, `generate_png`, `decode`, `encode`,
        `reconstruct`, `serving_default`) in TensorFlow Serving's layout
        `<base>/<version>/`. The export loads with `tf.saved_model.load` in a
        process without tfgen, and `tfgen serve` (or TensorFlow Serving
        itself) answers the TensorFlow Serving REST API for it. This notebook
        trains a small VAE, exports it, inspects and loads the export, serves
        it on a free port, calls it with `tfgen.serving.Client` and with plain
        HTTP, and stops the server.
        """,
        MODE_NOTE,
    ),
    setup_cell("04_export_and_serve"),
    md(
        """
        ## A model to export

        A VAE trained briefly on Fashion-MNIST (notebook 1 explains it). Any
        `tfgen.VAE` or `tfgen.GAN` exports the same way.
        """
    ),
    code(
        """
        train = tfgen.data.load("fashion_mnist", batch_size=128, binarize=True, seed=0,
                                num_examples=notebook.setting(full=None, small=256))
        vae = tfgen.VAE(input_shape=(28, 28, 1), latent_dim=16, seed=0, name="vae_fashion_mnist")
        vae.compile(optimizer=keras.optimizers.Adam(1e-3))
        history = vae.fit(train, epochs=1, verbose=2)
        """
    ),
    md(
        """
        ## Export

        `tfgen.export_saved_model(model, base_dir)` writes version 1 (or the
        next free version) under `base_dir` and returns its path. It never
        overwrites an existing version unless you ask (`overwrite=True`); here
        the base directory is inside this run's fresh directory anyway. Each
        version holds a `model_card.json` describing the model.
        """
    ),
    code(
        """
        import json

        tf.get_logger().setLevel("ERROR")   # TensorFlow logs "Assets written to ..." while saving
        base_dir = os.path.join(RUN_DIR, "saved_models", "vae_fashion_mnist")
        export_path = tfgen.export_saved_model(vae, base_dir, metadata={"dataset": "fashion_mnist"})
        print("exported to", export_path)
        for root, _, files in sorted(os.walk(base_dir)):
            for file in sorted(files):
                print("  ", os.path.relpath(os.path.join(root, file), base_dir))
        with open(os.path.join(export_path, "model_card.json")) as handle:
            print(json.dumps(json.load(handle), indent=2))
        """
    ),
    md(
        """
        ## Inspect the signatures

        Every signature is a concrete function with named inputs and outputs
        and a dynamic batch dimension. (`saved_model_cli show --dir <path>
        --all` prints the same from a shell.)
        """
    ),
    code(
        """
        loaded = tf.saved_model.load(export_path)
        for name, function in sorted(loaded.signatures.items()):
            inputs = {key: (spec.dtype.name, spec.shape.as_list())
                      for key, spec in function.structured_input_signature[1].items()}
            outputs = {key: (spec.dtype.name, spec.shape.as_list())
                       for key, spec in function.structured_outputs.items()}
            print(f"{name:16s} {inputs} -> {outputs}")

        latent = tf.random.stateless_normal([16, 16], seed=[0, 0])
        images = loaded.signatures["generate"](latent=latent)["images"]
        same = np.allclose(images, vae.decode(latent), atol=1e-5)
        print("export's generate == vae.decode:", same)
        path = plotting.save_image_grid(images, os.path.join(RUN_DIR, "export_generate.png"))
        display(Image(filename=path, width=250))
        """
    ),
    md(
        """
        ## Load it where tfgen is not installed

        The export contains the TensorFlow graph and weights only; no tfgen
        class is needed to run it. To prove it, a fresh Python process that
        *cannot* import tfgen loads the export and runs two signatures.
        """
    ),
    code(
        """
        import subprocess
        import sys

        script = '''
        import sys
        sys.modules["tfgen"] = None          # any "import tfgen" now fails
        import json, os
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow as tf
        model = tf.saved_model.load(sys.argv[1])
        images = model.signatures["generate"](latent=tf.zeros([2, 16]))["images"]
        codes = model.signatures["encode"](images=images)
        pngs = model.signatures["generate_png"](latent=tf.zeros([2, 16]))["images_bytes"]
        print(json.dumps({"images": images.shape.as_list(), "z_mean": codes["z_mean"].shape.as_list(),
                          "png_bytes": [len(p) for p in pngs.numpy()], "tfgen_importable": False}))
        '''
        result = subprocess.run([sys.executable, "-c", script, export_path],
                                capture_output=True, text=True, timeout=300)
        print(result.stdout.strip() or result.stderr[-2000:])
        """
    ),
    md(
        """
        ## Serve it

        `tfgen serve --model-base-path <base>` serves the highest version
        under the base directory (and switches to a newer one when it
        appears) on the TensorFlow Serving REST API. With `--port 0` it picks
        a free port and prints its URL. We start it as a subprocess, read
        that line, and make sure the server is stopped when the notebook's
        kernel exits even if a later cell fails.
        """
    ),
    code(
        """
        import atexit
        import re

        server_log = open(os.path.join(RUN_DIR, "serve.log"), "w")
        server = subprocess.Popen(
            [sys.executable, "-m", "tfgen", "serve", "--model-base-path", base_dir, "--port", "0"],
            stdout=subprocess.PIPE, stderr=server_log, text=True)
        atexit.register(server.terminate)

        first_line = server.stdout.readline()     # printed once the server accepts requests
        print(first_line.strip())
        match = re.search(r"at (http://\\S+)/v1/models/(\\S+) ", first_line)
        if match is None:
            server.terminate()
            raise RuntimeError(f"tfgen serve did not start: {first_line!r}; see {server_log.name}")
        URL, MODEL_NAME = match.group(1), match.group(2)
        """
    ),
    md(
        """
        ## Call it with `tfgen.serving.Client`

        The client speaks the REST API with the standard library (no
        TensorFlow needed on the client side) and returns NumPy arrays.
        `generate(n, seed=s)` runs the export's own `sample` signature, so it returns
        the images of `vae.generate(n, seed=s)`.
        """
    ),
    code(
        """
        from tfgen.serving import Client

        client = Client(URL, MODEL_NAME)
        print("status:", client.status())
        signatures = client.metadata()["metadata"]["signature_def"]["signature_def"]
        print("signatures:", sorted(name for name in signatures if not name.startswith("__")))

        images = client.generate(num_samples=16, seed=0)             # float32 [16, 28, 28, 1]
        reconstructions = client.reconstruct(images)                 # a round trip through encode/decode
        print("generate:", images.shape, images.dtype, "| reconstruct:", reconstructions.shape)
        path = plotting.save_image_panels({"client.generate": images, "client.reconstruct": reconstructions},
                                          os.path.join(RUN_DIR, "client.png"), num_rows=4)
        display(Image(filename=path))
        """
    ),
    md(
        """
        ## Call it with plain HTTP

        Any language can do this. `GET /v1/models/NAME` gives the version
        status; `POST /v1/models/NAME:predict` with a signature name and
        `instances` (one JSON object per example) runs the model. The
        `generate_png` signature returns each image as a PNG file, and
        because its output's name ends in `_bytes` the answer carries it
        base64-encoded as `{"b64": "..."}`: ready for a web page.
        """
    ),
    code(
        """
        import base64
        import urllib.request

        with urllib.request.urlopen(f"{URL}/v1/models/{MODEL_NAME}") as response:
            print("GET status:", json.loads(response.read()))

        latents = np.random.default_rng(1).standard_normal((6, 16)).round(4).tolist()
        body = json.dumps({"signature_name": "generate_png",
                           "instances": [{"latent": z} for z in latents]}).encode()
        request = urllib.request.Request(f"{URL}/v1/models/{MODEL_NAME}:predict", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request) as response:
            answer = json.loads(response.read())
        print("predictions:", len(answer["predictions"]), "| first:", str(answer["predictions"][0])[:60], "...")

        pngs = [base64.b64decode(prediction["b64"]) for prediction in answer["predictions"]]
        print("PNG files of", [len(png) for png in pngs], "bytes; the first three, enlarged:")
        for png in pngs[:3]:
            display(Image(data=png, width=84))
        """
    ),
    md(
        """
        `client.generate_png(...)` does the same in one call and returns the
        PNG files as `bytes`. A bad request gets a 4xx answer with an
        `{"error": ...}` body, which the client raises as `ServingError`:
        """
    ),
    code(
        """
        from tfgen.serving import ServingError

        pngs = client.generate_png(num_samples=4, seed=2)
        decoded = np.stack([tf.io.decode_png(png).numpy() for png in pngs])
        print("client.generate_png:", len(pngs), "PNGs, decoded", decoded.shape, decoded.dtype)
        path = plotting.save_image_grid(decoded.astype("float32") / 127.5 - 1.0,
                                        os.path.join(RUN_DIR, "client_png.png"), num_rows=1)
        display(Image(filename=path, width=250))

        try:
            client.decode(np.zeros((2, 3), "float32"))      # wrong latent size
        except ServingError as error:
            print("ServingError:", error.status, error.message[:120])
        """
    ),
    md(
        """
        ## Stop the server

        `tfgen serve` finishes the requests in flight and exits cleanly on
        SIGTERM (or Ctrl-C in a terminal).
        """
    ),
    code(
        """
        server.terminate()
        return_code = server.wait(timeout=60)
        print("tfgen serve exited with", return_code, "|", server.stdout.read().strip())
        server.stdout.close()
        server_log.close()
        atexit.unregister(server.terminate)
        """
    ),
    md(
        """
        From a shell, the same steps are:

        ```bash
        python -m tfgen export --model runs/vae/model.keras --output saved_models/vae_fashion_mnist
        python -m tfgen serve --model-base-path saved_models/vae_fashion_mnist --port 8501
        curl -s localhost:8501/v1/models/vae_fashion_mnist/metadata
        ```

        TensorFlow Serving serves the same directory:
        `docker run -p 8501:8501 -v $PWD/saved_models/vae_fashion_mnist:/models/vae_fashion_mnist
        -e MODEL_NAME=vae_fashion_mnist tensorflow/serving`.
        """
    ),
]


# ---------------------------------------------------------------------------
# 05: evaluation
# ---------------------------------------------------------------------------

EVALUATE = [
    md(
        """
        # 5. How good are the samples?

        Loss values say little about sample quality (a GAN's losses hardly
        move while its samples improve). This notebook trains a VAE and a GAN
        briefly, plots their loss curves, and compares their samples with real
        Fashion-MNIST images using `tfgen.metrics`:

        * **FID** (Frechet Inception distance): the distance between Gaussians
          fitted to InceptionV3 features of real and generated images; lower
          is better; it measures quality and diversity together.
        * **KID** (kernel Inception distance): an unbiased kernel
          (MMD) estimate on the same features, usable at small sample sizes.
        * **Precision and recall** (k-nearest-neighbour manifolds): precision
          is the fraction of generated images that look like some real image
          (quality); recall the fraction of real images the generator can
          produce something like (diversity).
        * **fashion_fd**: the Frechet distance of a small Fashion-MNIST
          classifier's features: thousands of images per second, so it suits
          monitoring during training; its scale is its own.

        **Cost, stated plainly.** FID's InceptionV3 runs at 299x299: about 16
        images per second on this 2-core CPU when the machine is quiet. So
        the full mode of this notebook uses **500 images** per set
        (`NUM_IMAGES` below), and the small mode a handful. FID is biased
        upwards for small N: compare only values computed with the same N,
        and quote N with them. `python -m tfgen evaluate ... --num-samples
        10000` computes the standard figures when you have the time (or a
        GPU).
        """,
        MODE_NOTE,
    ),
    setup_cell("05_evaluate", ["from tfgen import metrics"]),
    md(
        """
        ## Two models to evaluate, and their loss curves

        A VAE (2 epochs) and a class-conditional GAN (1,200 steps, EMA
        generator; notebook 2 explains both). The GAN
        also gets a `MetricCallback` that computes `fashion_fd` on 1000
        samples after every epoch: a quality curve next to its loss curves.
        """
    ),
    code(
        """
        vae_train = tfgen.data.load("fashion_mnist", batch_size=128, binarize=True, seed=0,
                                    num_examples=notebook.setting(full=None, small=256))
        vae_validation = tfgen.data.load("fashion_mnist", split="test", batch_size=500, binarize=True, seed=1,
                                         num_examples=notebook.setting(full=2000, small=100))
        vae = tfgen.VAE(input_shape=(28, 28, 1), latent_dim=16, seed=0)
        vae.compile(optimizer=keras.optimizers.Adam(1e-3))
        vae_history = vae.fit(vae_train, validation_data=vae_validation,
                              epochs=notebook.setting(full=2, small=1), verbose=2)
        display(Image(filename=plotting.save_loss_curves(vae_history, os.path.join(RUN_DIR, "vae_losses.png"),
                                                         title="VAE")))
        """
    ),
    code(
        """
        gan_train = tfgen.data.load("fashion_mnist", batch_size=64, with_labels=True, seed=0, repeat=True,
                                    drop_remainder=True, num_examples=notebook.setting(full=None, small=512))
        gan = tfgen.GAN(input_shape=(28, 28, 1), latent_dim=64, num_classes=10, base_filters=32, seed=0)
        gan.compile(ema_decay=0.99)
        # generate() without labels cycles through the classes: 10% of the samples per class, like the test set.
        quality = metrics.MetricCallback(["fashion_fd"], dataset="fashion_mnist",
                                         num_samples=notebook.setting(full=1000, small=50), every_n_epochs=1)
        gan_history = gan.fit(gan_train, epochs=notebook.setting(full=8, small=2),
                              steps_per_epoch=notebook.setting(full=150, small=4), callbacks=[quality], verbose=2)
        display(Image(filename=plotting.save_loss_curves(gan_history, os.path.join(RUN_DIR, "gan_losses.png"),
                                                         title="GAN (fashion_fd: lower is better)")))
        """
    ),
    md(
        """
        ## The real-data floor

        Even two sets of *real* images are not at distance 0: with finite N,
        the estimates carry noise and (for FID) bias. Comparing real training
        images with real test images, at the same N, gives the floor that no
        generator can be expected to beat. Real features are cached
        (`~/.cache/tfgen/reference`), so the test set's features are
        computed once and reused for every model.
        """
    ),
    code(
        """
        import time

        NUM_IMAGES = notebook.setting(full=500, small=24)
        # FID's matrix square root of 2048 x 2048 covariances costs seconds per call whatever N is: small mode skips it.
        METRIC_NAMES = notebook.setting(full=["fid", "kid", "precision_recall", "fashion_fd"],
                                        small=["kid", "precision_recall", "fashion_fd"])
        # KID: mean and std over random subsets of half the images (subsets of all N would all be the same).
        options = {"kid_subset_size": NUM_IMAGES // 2, "kid_subsets": notebook.setting(full=100, small=10)}
        real_test = metrics.real_features(METRIC_NAMES, dataset="fashion_mnist", split="test",
                                          num_real_images=NUM_IMAGES)

        train_pixels, _ = tfgen.data.load_arrays("fashion_mnist", split="train")
        candidates = {
            "real (floor)": train_pixels[:NUM_IMAGES].astype("float32") / 127.5 - 1.0,
            "VAE": vae.generate(NUM_IMAGES, seed=1).numpy(),
            "GAN (EMA)": gan.generate(NUM_IMAGES, seed=1).numpy(),
        }
        results = {}
        for name, images in candidates.items():
            start = time.perf_counter()
            results[name] = metrics.evaluate_images(images, METRIC_NAMES, real_activations=real_test, **options)
            print(f"{name}: {time.perf_counter() - start:.0f} s")
        """
    ),
    code(
        """
        columns = [c for c in ["fid", "kid", "kid_std", "precision", "recall", "fashion_fd"]
                   if c in next(iter(results.values()))]
        print(f"N = {NUM_IMAGES} images per set, compared with the first {NUM_IMAGES} test images\\n")
        print(f"{'':14s}" + "".join(f"{c:>12s}" for c in columns))
        for name, row in results.items():
            print(f"{name:14s}" + "".join(f"{row[c]:12.4f}" for c in columns))

        path = plotting.save_image_panels({name: images[:36] for name, images in candidates.items()},
                                          os.path.join(RUN_DIR, "compared.png"), num_rows=6)
        display(Image(filename=path))
        """
    ),
    md(
        """
        ## Reading the numbers

        * The floor row is the yardstick: a model's FID means something only
          next to the floor at the same N. At N = 500 the floor is about 38,
          far above the ~0 one might expect, because FID's bias shrinks only
          like 1/N (at N = 2000 the quality benchmark measured about 12).
        * The VAE's samples are blurry (its decoder outputs the *mean* image):
          few of them land near a real image in Inception space (precision
          about 0.1).
        * The GAN's samples are sharper (precision about 0.5), but after
          1,200 steps they cover little of the variety of real garments
          (recall near 0), and FID, which counts both, ends up in the same
          range as the VAE's. Longer training is what closes the gap: the
          quality benchmark (`python -m benchmarks.quality_fashion_mnist`,
          N = 2000, 10 GAN epochs) measured FID about 49 for the GAN against
          about 104 for a 2-epoch VAE and a floor of about 12.
        * KID is unbiased, so its floor is about 0 at any N; quote its
          standard deviation over subsets with it.
        * `fashion_fd` ranks the two models the other way round from FID in
          this run: a different feature network weighs blur and texture
          differently. It is cheap and follows one model's progress well (the
          GAN's curve above), but quote the metric, N and feature network
          together, and compare different kinds of models with more than one
          number.

        The same from the command line, for a saved model or an export:

        ```bash
        python -m tfgen evaluate --model runs/vae_fashion_mnist/model.keras --dataset fashion_mnist \\
            --metrics fid,kid,precision_recall,log_likelihood --num-samples 10000
        ```
        """
    ),
]


NOTEBOOKS = {
    "01_vae": VAE,
    "02_gan": GAN,
    "03_distributed": DISTRIBUTED,
    "04_export_and_serve": EXPORT,
    "05_evaluate": EVALUATE,
}


def build(name):
    """The notebook ``name`` as an ``nbformat`` node, without outputs."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = dict(KERNEL)
    notebook.metadata["language_info"] = {"name": "python"}
    notebook.cells = [nbformat.from_dict(dict(cell)) for cell in NOTEBOOKS[name]]
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{name}-{index:02d}"
    return notebook


def path_of(name):
    return os.path.join(HERE, f"{name}.ipynb")


def execute(notebook, mode="full", working_dir=None, timeout=CELL_TIMEOUT_SECONDS):
    """Runs ``notebook`` in place with nbclient in ``mode``; returns it.

    The kernel inherits this process's environment with
    ``TFGEN_NOTEBOOK_MODE=mode``; cells run in ``working_dir`` (default: a
    new temporary directory).
    """
    from nbclient import NotebookClient

    previous = os.environ.get("TFGEN_NOTEBOOK_MODE")
    os.environ["TFGEN_NOTEBOOK_MODE"] = mode
    try:
        with tempfile.TemporaryDirectory(prefix="tfgen-notebook-cwd-") as scratch:
            client = NotebookClient(
                notebook,
                timeout=timeout,
                kernel_name=KERNEL["name"],
                resources={"metadata": {"path": working_dir or scratch}},
                # TensorFlow's C++ start-up lines go to this process's stderr, not into the notebook.
                extra_arguments=["--IPKernelApp.capture_fd_output=False"],
            )
            client.execute()
    finally:
        if previous is None:
            os.environ.pop("TFGEN_NOTEBOOK_MODE", None)
        else:
            os.environ["TFGEN_NOTEBOOK_MODE"] = previous
    return notebook


def keep_outputs(notebook, name):
    """Copies the outputs of the committed ``name`` into ``notebook`` (after markdown-only edits).

    Raises:
        ValueError: if a code cell differs from the committed one (then the
            outputs would not belong to the code: execute instead).
    """
    committed = nbformat.read(path_of(name), as_version=4)
    old_code = [cell for cell in committed.cells if cell.cell_type == "code"]
    new_code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if [cell.source for cell in old_code] != [cell.source for cell in new_code]:
        raise ValueError(f"{name}: code cells changed since the last execution; run with --execute.")
    for old, new in zip(old_code, new_code):
        new.outputs, new.execution_count, new.metadata = old.outputs, old.execution_count, old.metadata
    return notebook


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"notebooks to write (default: all of {list(NOTEBOOKS)})")
    parser.add_argument("--execute", action="store_true", help="run them and store the outputs")
    parser.add_argument("--mode", default="full", choices=["full", "small"], help="mode to execute in")
    parser.add_argument("--keep-outputs", action="store_true",
                        help="after markdown-only edits: keep the committed outputs (code cells must be unchanged)")
    args = parser.parse_args(argv)
    names = args.names or list(NOTEBOOKS)
    unknown = sorted(set(names) - set(NOTEBOOKS))
    if unknown:
        parser.error(f"unknown notebooks {unknown}; valid: {list(NOTEBOOKS)}")
    for name in names:
        notebook = build(name)
        if args.keep_outputs and not args.execute:
            keep_outputs(notebook, name)
        if args.execute:
            start = time.perf_counter()
            execute(notebook, mode=args.mode)
            print(f"{name}: executed in {args.mode} mode in {time.perf_counter() - start:.0f} s", flush=True)
        nbformat.validate(notebook)
        nbformat.write(notebook, path_of(name))
        print(f"{name}: wrote {path_of(name)} ({os.path.getsize(path_of(name)) / 1e6:.2f} MB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
