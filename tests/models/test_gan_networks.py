"""The GAN's networks: the architecture registry and the residual (``"resnet"``) family.

Small widths (``base_filters`` 4) keep every test fast, the 256x256 ones included.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import precision
from tfgen.models import gan_networks, resnet_networks
from tests.helpers import random_images, weights_equal

LATENT_DIM = 8
NUM_CLASSES = 3
RESNET_SIZES = sorted(resnet_networks.SUPPORTED_IMAGE_SIZES)


def _generator(shape, num_classes=None, seed=0, **kwargs):
    kwargs.setdefault("base_filters", 4)
    return resnet_networks.make_resnet_generator(shape, LATENT_DIM, num_classes=num_classes, seed=seed, **kwargs)


def _discriminator(shape, num_classes=None, seed=1, **kwargs):
    kwargs.setdefault("base_filters", 4)
    return resnet_networks.make_resnet_discriminator(shape, num_classes=num_classes, seed=seed, **kwargs)


def _generator_inputs(num_classes, batch_size=4, seed=0):
    rng = np.random.default_rng(seed)
    latents = rng.normal(size=(batch_size, LATENT_DIM)).astype("float32")
    labels = rng.integers(0, NUM_CLASSES, size=(batch_size,)).astype("int32")
    return gan_networks.network_inputs(tf.constant(latents), tf.constant(labels), num_classes)


def _discriminator_inputs(shape, num_classes, batch_size=4, seed=0):
    labels = np.random.default_rng(seed).integers(0, NUM_CLASSES, size=(batch_size,)).astype("int32")
    images = random_images(batch_size, shape, seed=seed)
    return gan_networks.network_inputs(tf.constant(images), tf.constant(labels), num_classes)


# ------------------------------------------------------------------ registry
def test_registry_lists_both_families_and_their_sizes():
    assert sorted(gan_networks.ARCHITECTURES) == ["dcgan", "resnet"]
    assert gan_networks.ARCHITECTURES["dcgan"].image_sizes == (16, 28, 32, 64)
    assert gan_networks.ARCHITECTURES["resnet"].image_sizes == (16, 28, 32, 64, 128, 256)
    resnet = gan_networks.get_architecture("resnet")
    assert resnet.make_generator is resnet_networks.make_resnet_generator
    assert resnet.make_discriminator is resnet_networks.make_resnet_discriminator
    assert all(architecture.description for architecture in gan_networks.ARCHITECTURES.values())


@pytest.mark.parametrize(
    "call",
    [
        lambda: gan_networks.make_generator((32, 32, 1), LATENT_DIM, architecture="stylegan"),
        lambda: gan_networks.make_discriminator((2,), architecture="stylegan"),
        lambda: gan_networks.check_data_shape((32, 32, 1), architecture="stylegan"),
    ],
)
def test_unknown_architecture_names_it_and_the_valid_ones(call):
    with pytest.raises(ValueError) as error:
        call()
    assert str(error.value) == "Unknown architecture 'stylegan'. Valid architectures: ['dcgan', 'resnet']"


def test_check_data_shape_accepts_the_sizes_of_the_architecture():
    assert gan_networks.check_data_shape([128, 128, 3], architecture="resnet") == (128, 128, 3)
    assert gan_networks.check_data_shape((256, 256, 1), architecture="resnet") == (256, 256, 1)
    assert gan_networks.check_data_shape((2,), architecture="resnet") == (2,)
    with pytest.raises(ValueError) as error:
        gan_networks.check_data_shape((128, 128, 3))  # DCGAN stops at 64
    assert str(error.value) == (
        "Unsupported data shape (128, 128, 3) for architecture 'dcgan'. Supported shapes: (16, 16, C), "
        "(28, 28, C), (32, 32, C), (64, 64, C) images with any number of channels C, or (D,) vectors."
    )


@pytest.mark.parametrize("shape", [(48, 48, 3), (32, 16, 3), (512, 512, 1), (32, 32)])
def test_unsupported_shapes_name_the_shape_and_list_the_supported_ones(shape):
    with pytest.raises(ValueError) as error:
        gan_networks.check_data_shape(shape, architecture="resnet")
    assert f"Unsupported data shape {shape!r} for architecture 'resnet'" in str(error.value)
    assert "(128, 128, C), (256, 256, C) images" in str(error.value)
    with pytest.raises(ValueError, match=r"\(256, 256, C\)"):
        gan_networks.make_generator(shape, LATENT_DIM, architecture="resnet")
    with pytest.raises(ValueError, match=r"\(256, 256, C\)"):
        gan_networks.make_discriminator(shape, architecture="resnet")
    for make in (_generator, _discriminator):
        with pytest.raises(ValueError, match=r"resnet.*\(256, 256, C\)"):
            make(shape)


def test_infer_data_shape_checks_the_shape_for_the_architecture():
    assert gan_networks.infer_data_shape((128, 128, 3), None, None, LATENT_DIM, None, architecture="resnet") == (
        128,
        128,
        3,
    )
    with pytest.raises(ValueError, match=r"\(128, 128, 3\)"):
        gan_networks.infer_data_shape((128, 128, 3), None, None, LATENT_DIM, None)


def test_vectors_get_the_mlps_whatever_the_architecture():
    generator = gan_networks.make_generator((2,), LATENT_DIM, hidden_units=(8,), seed=0, architecture="resnet")
    discriminator = gan_networks.make_discriminator((2,), hidden_units=(8,), seed=0, architecture="resnet")
    dcgan_generator = gan_networks.make_generator((2,), LATENT_DIM, hidden_units=(8,), seed=0)
    assert generator.output_shape == (None, 2)
    assert discriminator.output_shape == (None, 1)
    assert weights_equal(generator, dcgan_generator)


@pytest.mark.parametrize("num_classes", [None, NUM_CLASSES])
def test_make_generator_and_make_discriminator_dispatch_to_the_resnet_factories(num_classes):
    shape = (16, 16, 3)
    generator = gan_networks.make_generator(
        shape, LATENT_DIM, num_classes=num_classes, base_filters=4, seed=0, architecture="resnet"
    )
    discriminator = gan_networks.make_discriminator(
        shape, num_classes=num_classes, spectral_norm=True, base_filters=4, seed=1, architecture="resnet"
    )
    assert weights_equal(generator, _generator(shape, num_classes, seed=0))
    assert weights_equal(discriminator, _discriminator(shape, num_classes, spectral_norm=True, seed=1))


def test_default_architecture_is_dcgan():
    generator = gan_networks.make_generator((32, 32, 1), LATENT_DIM, base_filters=4, seed=0)
    assert "upsample_0_bn" in [layer.name for layer in generator.layers]


# ------------------------------------------------------------------- shapes
@pytest.mark.parametrize("num_classes", [None, NUM_CLASSES])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", RESNET_SIZES)
def test_output_shapes_for_every_size(size, channels, num_classes):
    shape = (size, size, channels)
    generator = _generator(shape, num_classes, blocks_per_stage=1)
    discriminator = _discriminator(shape, num_classes, blocks_per_stage=1)
    images = generator(_generator_inputs(num_classes, batch_size=2))
    assert tuple(images.shape) == (2,) + shape
    logits = discriminator(gan_networks.network_inputs(images, tf.constant([0, 2]), num_classes))
    assert tuple(logits.shape) == (2, 1)
    assert [tensor.name for tensor in generator.inputs] == ["latent", "labels"][: 1 + (num_classes is not None)]
    assert [tensor.name for tensor in discriminator.inputs] == ["images", "labels"][: 1 + (num_classes is not None)]


def test_widths_double_toward_low_resolution_up_to_eight_times_the_base():
    discriminator = _discriminator((256, 256, 3), base_filters=2, blocks_per_stage=1)
    widths = {
        layer.name: layer.output.shape[-1] for layer in discriminator.layers if layer.name.endswith("_add")
    }
    assert widths == {
        "block_256_0_add": 2,
        "block_128_0_add": 4,
        "block_64_0_add": 8,
        "block_32_0_add": 16,
        "block_16_0_add": 16,
        "block_8_0_add": 16,
        "block_4_0_add": 16,
    }
    generator = _generator((28, 28, 1), base_filters=2)
    assert generator.get_layer("reshape").output.shape[1:] == (7, 7, 8)


def test_no_batch_normalization_anywhere():
    for model in (_generator((32, 32, 3), NUM_CLASSES), _discriminator((32, 32, 3), NUM_CLASSES)):
        assert not [layer for layer in model.layers if "Normalization" in type(layer).__name__]


# ------------------------------------------------------------ value ranges
def test_generator_output_is_in_minus_one_one():
    generator = _generator((32, 32, 3), NUM_CLASSES)
    latents, labels = _generator_inputs(NUM_CLASSES, batch_size=8)
    for scale in (1.0, 1000.0):
        images = generator([latents * scale, labels]).numpy()
        assert np.all(np.abs(images) <= 1.0)
    assert images.std() > 0.0


def test_residual_blocks_start_as_the_identity():
    # Fix-up: each block's last convolution is zero, so its branch adds nothing yet.
    for model in (_generator((16, 16, 1)), _discriminator((16, 16, 1))):
        projections = [layer for layer in model.layers if layer.name.endswith("_project")]
        assert len(projections) == 2 * 3  # two blocks at each of 4x4, 8x8, 16x16
        for layer in projections:
            np.testing.assert_array_equal(layer.kernel.numpy(), 0.0)


# -------------------------------------------------------------------- seeds
@pytest.mark.parametrize("spectral_norm", [False, True])
def test_same_seed_same_weights_different_seed_different_weights(spectral_norm):
    shape = (28, 28, 3)
    assert weights_equal(_generator(shape, NUM_CLASSES, seed=5), _generator(shape, NUM_CLASSES, seed=5))
    assert not weights_equal(_generator(shape, NUM_CLASSES, seed=5), _generator(shape, NUM_CLASSES, seed=6))
    same = [_discriminator(shape, NUM_CLASSES, spectral_norm=spectral_norm, seed=7) for _ in range(2)]
    assert weights_equal(*same)
    other = _discriminator(shape, NUM_CLASSES, spectral_norm=spectral_norm, seed=8)
    assert not weights_equal(same[0], other)


# ---------------------------------------------------- per-example networks
@pytest.mark.parametrize("num_classes", [None, NUM_CLASSES])
def test_each_logit_depends_only_on_its_own_example(num_classes):
    shape = (16, 16, 3)
    discriminator = _discriminator(shape, num_classes)
    inputs = _discriminator_inputs(shape, num_classes)
    together = discriminator(inputs, training=True).numpy()
    for row in range(4):
        alone = discriminator(tf.nest.map_structure(lambda t: t[row : row + 1], inputs), training=True).numpy()
        np.testing.assert_allclose(alone, together[row : row + 1], rtol=1e-5, atol=1e-6)


def test_each_generated_image_depends_only_on_its_own_latent():
    generator = _generator((16, 16, 3), NUM_CLASSES)
    inputs = _generator_inputs(NUM_CLASSES)
    together = generator(inputs, training=True).numpy()
    for row in range(4):
        alone = generator([t[row : row + 1] for t in inputs], training=True).numpy()
        np.testing.assert_allclose(alone, together[row : row + 1], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- gradients
@pytest.mark.parametrize("spectral_norm", [False, True])
def test_input_gradient_of_the_discriminator_is_finite_and_nonzero(spectral_norm):
    shape = (32, 32, 1)
    discriminator = _discriminator(shape, NUM_CLASSES, spectral_norm=spectral_norm)
    images, labels = _discriminator_inputs(shape, NUM_CLASSES)
    with tf.GradientTape() as tape:
        tape.watch(images)
        logits = discriminator([images, labels], training=True)
    gradients = tape.gradient(logits, images).numpy()
    assert np.all(np.isfinite(gradients))
    assert np.all(np.linalg.norm(gradients.reshape(4, -1), axis=1) > 0.0)


def test_spectral_norm_scales_depthwise_kernels_by_their_largest_channel_norm():
    discriminator = _discriminator((16, 16, 1), spectral_norm=True)
    discriminator(random_images(2, (16, 16, 1)), training=True)  # one normalisation step
    wrapper = discriminator.get_layer("block_16_0_spatial_sn")
    norms = np.sqrt(np.sum(np.square(wrapper.layer.kernel.numpy()), axis=(0, 1, 3)))
    np.testing.assert_allclose(norms.max(), 1.0, rtol=1e-5)
    assert norms.min() > 0.1  # not divided by the norm of all channels together


# ---------------------------------------------------------- mixed precision
def test_mixed_bfloat16_gives_float32_images_and_logits():
    shape = (28, 28, 1)
    latents, labels = _generator_inputs(NUM_CLASSES)
    with precision.policy_scope("bfloat16"):
        generator = _generator(shape, NUM_CLASSES)
        discriminator = _discriminator(shape, NUM_CLASSES, spectral_norm=True)
        assert generator.get_layer("block_28_0_expand").compute_dtype == "bfloat16"
        assert discriminator.get_layer("block_28_0_expand_sn").layer.compute_dtype == "bfloat16"
        with tf.GradientTape() as tape:
            images = generator([latents, labels], training=True)
            logits = discriminator([images, labels], training=True)
        gradients = tape.gradient(logits, generator.trainable_variables)
    assert keras.config.dtype_policy().name == "float32"
    assert images.dtype == tf.float32 and logits.dtype == tf.float32
    assert np.all(np.isfinite(logits.numpy()))
    assert all(np.all(np.isfinite(tf.convert_to_tensor(g).numpy())) for g in gradients)


# ------------------------------------------------------------ serialisation
@pytest.mark.parametrize("network", ["generator", "discriminator"])
def test_config_round_trip_and_keras_file_give_the_same_outputs(network, tmp_path):
    shape = (16, 16, 3)
    if network == "generator":
        model, inputs = _generator(shape, NUM_CLASSES), _generator_inputs(NUM_CLASSES)
    else:
        model = _discriminator(shape, NUM_CLASSES, spectral_norm=True)
        model(_discriminator_inputs(shape, NUM_CLASSES, seed=1), training=True)  # non-zero, normalised kernels
        inputs = _discriminator_inputs(shape, NUM_CLASSES)
    expected = model(inputs).numpy()

    rebuilt = keras.Model.from_config(model.get_config())
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(rebuilt(inputs).numpy(), expected, rtol=1e-6, atol=1e-6)

    path = str(tmp_path / f"{network}.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded(inputs).numpy(), expected, rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------ other options
def test_dropout_is_seeded_and_only_active_in_training():
    shape = (16, 16, 1)
    inputs = _discriminator_inputs(shape, None)
    with pytest.raises(ValueError, match="dropout"):
        _discriminator(shape, dropout=1.0)
    discriminator = _discriminator(shape, dropout=0.5)
    np.testing.assert_array_equal(discriminator(inputs).numpy(), discriminator(inputs).numpy())
    assert not np.array_equal(discriminator(inputs, training=True).numpy(), discriminator(inputs).numpy())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"base_filters": 0}, "base_filters"),
        ({"blocks_per_stage": 0}, "blocks_per_stage"),
        ({"num_classes": 1}, "num_classes"),
    ],
)
def test_invalid_sizes_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        resnet_networks.make_resnet_generator((16, 16, 1), LATENT_DIM, **kwargs)
    with pytest.raises(ValueError, match=message):
        resnet_networks.make_resnet_discriminator((16, 16, 1), **kwargs)
