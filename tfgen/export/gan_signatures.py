"""SavedModel signatures of a GAN export.

Served from the EMA generator when the GAN was compiled with ``ema_decay``.

==============  ==============================================  ===============================
signature       inputs                                          outputs
==============  ==============================================  ===============================
generate        latent float32 ``[N, latent_dim]``              images ``[N, *shape]`` in [-1, 1]
                (+ labels int32 ``[N]`` when conditional)       (``samples`` for 2-D points)
sample          num_samples int32 ``[]``, seed int32 ``[]``     the same output as ``generate``
generate_png    as ``generate`` (image GANs only)               images_bytes string ``[N]`` (PNG)
serving_default same as ``generate``
==============  ==============================================  ===============================

``sample`` draws its latent vectors exactly as ``GAN.generate(num_samples,
seed=seed)`` does, so an export reproduces the Python model's samples; a
conditional export's ``sample`` cycles through the classes.
"""

import tensorflow as tf

from tfgen import random as tfgen_random
from tfgen.export.saved_model import png_endpoint


def _output_key(model):
    return "images" if len(model.data_shape) == 3 else "samples"


def gan_endpoints(model):
    """``[(name, fn, input_signature), ...]`` for a ``tfgen.GAN``; the first is ``serving_default``."""
    network = model.sampling_generator
    key = _output_key(model)
    latent_spec = tf.TensorSpec((None, model.latent_dim), tf.float32, name="latent")
    conditional = model.num_classes is not None

    def run(latent, labels):
        return {key: tf.cast(model._generate(latent, labels, False, network), tf.float32)}

    if conditional:
        labels_spec = tf.TensorSpec((None,), tf.int32, name="labels")

        def generate(latent, labels):
            checked = tf.debugging.assert_less(
                labels, model.num_classes, message=f"labels must be < num_classes={model.num_classes}"
            )
            with tf.control_dependencies(
                [checked, tf.debugging.assert_non_negative(labels, message="labels must be >= 0")]
            ):
                return run(latent, labels)

        generate_signature = [latent_spec, labels_spec]
    else:

        def generate(latent):
            return run(latent, None)

        generate_signature = [latent_spec]

    def sample(num_samples, seed):
        latent = tf.random.stateless_normal(
            tf.stack([num_samples, model.latent_dim]),
            seed=tfgen_random.stateless_seed(seed, 0, "generate"),
        )
        labels = tf.range(num_samples) % model.num_classes if conditional else None
        return run(latent, labels)

    endpoints = [("generate", generate, generate_signature)]
    if key == "images":
        endpoints.append(png_endpoint(generate, generate_signature))
    endpoints.append(
        (
            "sample",
            sample,
            [tf.TensorSpec((), tf.int32, name="num_samples"), tf.TensorSpec((), tf.int32, name="seed")],
        )
    )
    return endpoints


def gan_card(model):
    """The GAN-specific fields of the model card."""
    return {
        "model_type": "GAN",
        "input_shape": [model.latent_dim],
        "output_shape": list(model.data_shape),
        "latent_dim": model.latent_dim,
        "num_classes": model.num_classes,
        "ema": model.ema_generator is not None and model.ema_decay is not None,
        "loss": model.loss_name,
    }
