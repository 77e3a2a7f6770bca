"""Differentiable augmentation: the reference's transforms, per-row probability, row-wise draws, gradients."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import REPO_ROOT, random_images
from tfgen import augment
from tfgen import random as tfgen_random

NAMES = sorted(augment.AUGMENTATIONS)


def _augment(images, policy, step=0, stream="augment_real", probability=1.0, seed=3):
    return augment.augment(tf.constant(images), policy, seed, step, stream, probability=probability).numpy()


def _uniforms(*rows):
    """float32 ``[N, NUM_UNIFORMS]`` from rows of up to NUM_UNIFORMS values (padded with 0.5)."""
    padded = [list(row) + [0.5] * (augment.NUM_UNIFORMS - len(row)) for row in rows]
    return tf.constant(padded, tf.float32)


# ------------------------------------------------------------------ policies
def test_parse_policy_accepts_strings_lists_and_nothing():
    assert augment.parse_policy("color, translation,cutout") == ("color", "translation", "cutout")
    assert augment.parse_policy(["cutout"]) == ("cutout",)
    for nothing in (None, "", (), []):
        assert augment.parse_policy(nothing) == ()


def test_unknown_or_repeated_names_are_refused():
    with pytest.raises(ValueError, match=r"Unknown augmentation 'flip'\. Valid augmentations: \['color', 'cutout'"):
        augment.parse_policy("color,flip")
    with pytest.raises(ValueError, match="Unknown augmentation ''"):
        augment.parse_policy("color,")
    with pytest.raises(ValueError, match=r"repeats \['color'\]"):
        augment.parse_policy(["color", "color"])
    with pytest.raises(ValueError, match="Expected policy to be None"):
        augment.parse_policy(3)
    with pytest.raises(ValueError, match="Unknown augmentation 'flip'"):
        augment.augment(tf.zeros([1, 4, 4, 1]), "flip", 0, 0, "augment_real")


@pytest.mark.parametrize("probability", [1.5, -0.1, float("nan"), True])
def test_probability_outside_zero_one_is_refused(probability):
    with pytest.raises(ValueError, match=f"probability.*{probability!r}"):
        augment.augment(tf.zeros([1, 4, 4, 1]), "color", 0, 0, "augment_real", probability=probability)


def test_images_must_be_rank_4_floats():
    with pytest.raises(ValueError, match=r"\[N, H, W, C\].*\(4, 4\)"):
        augment.augment(tf.zeros([4, 4]), "color", 0, 0, "augment_real")
    with pytest.raises(ValueError, match="float tensor, got dtype uint8"):
        augment.augment(tf.zeros([1, 4, 4, 1], tf.uint8), "color", 0, 0, "augment_real")


def test_streams_for_augmentation_exist():
    assert {"augment_real", "augment_fake", "augment_generator"} <= set(tfgen_random.STREAMS)
    assert len(set(tfgen_random.STREAMS.values())) == len(tfgen_random.STREAMS)


# ------------------------------------------------------- shapes and identity
@pytest.mark.parametrize("dtype", [tf.float32, tf.bfloat16])
@pytest.mark.parametrize("shape", [(16, 12, 3), (8, 8, 1)])
def test_shape_and_dtype_are_kept(dtype, shape):
    images = tf.cast(random_images(4, shape), dtype)
    for policy in [*NAMES, "color,translation,cutout"]:
        augmented = augment.augment(images, policy, 0, 1, "augment_fake", probability=0.7)
        assert augmented.shape == images.shape and augmented.dtype == dtype
        assert np.all(np.isfinite(tf.cast(augmented, tf.float32).numpy()))


@pytest.mark.parametrize("policy", ["color,translation,cutout", *NAMES])
def test_probability_zero_and_empty_policy_are_the_identity(policy):
    images = random_images(8, (16, 16, 3))
    np.testing.assert_array_equal(_augment(images, policy, probability=0.0), images)
    np.testing.assert_array_equal(_augment(images, policy, probability=tf.constant(0.0)), images)
    for nothing in (None, "", ()):
        np.testing.assert_array_equal(_augment(images, nothing), images)


@pytest.mark.parametrize("policy", NAMES)
def test_probability_one_changes_images(policy):
    images = random_images(8, (16, 16, 3))
    assert not np.allclose(_augment(images, policy), images)


def test_same_draws_for_same_seed_step_and_stream_only():
    images = random_images(8, (16, 16, 3))
    policy = "color,translation,cutout"
    reference = _augment(images, policy, step=4)
    np.testing.assert_array_equal(_augment(images, policy, step=4), reference)
    assert not np.allclose(_augment(images, policy, step=5), reference)
    assert not np.allclose(_augment(images, policy, step=4, stream="augment_fake"), reference)
    assert not np.allclose(_augment(images, policy, step=4, seed=4), reference)


def test_draws_of_an_augmentation_do_not_depend_on_the_rest_of_the_policy():
    images = random_images(8, (16, 16, 3))
    cut_alone = _augment(images, "cutout") == 0
    cut_after_color = _augment(images, "color,cutout") == 0
    np.testing.assert_array_equal(cut_after_color, cut_alone)


def test_probability_is_per_row():
    images = random_images(400, (8, 8, 1))
    augmented = _augment(images, "cutout", probability=0.5)
    unchanged = np.all(augmented == images, axis=(1, 2, 3))
    assert 150 < unchanged.sum() < 250
    changed_rows = augmented[~unchanged]
    np.testing.assert_array_equal(changed_rows, _augment(images, "cutout")[~unchanged])


def test_probability_may_be_a_variable():
    images = random_images(64, (8, 8, 1))
    probability = tf.Variable(0.5)
    step = tf.function(lambda x: augment.augment(x, "cutout", 3, 0, "augment_real", probability=probability))
    np.testing.assert_array_equal(step(tf.constant(images)).numpy(), _augment(images, "cutout", probability=0.5))
    probability.assign(0.0)
    np.testing.assert_array_equal(step(tf.constant(images)).numpy(), images)
    probability.assign(1.0)
    np.testing.assert_array_equal(step(tf.constant(images)).numpy(), _augment(images, "cutout"))


# --------------------------------------------------------------- transforms
def test_color_parameters_follow_the_reference():
    images = tf.constant(random_images(1, (4, 4, 3)))
    np.testing.assert_allclose(augment.color(images, _uniforms((0.5, 0.5, 0.5))), images, atol=1e-6)
    brighter = augment.color(images, _uniforms((0.75, 0.5, 0.5)))
    np.testing.assert_allclose(brighter, images + 0.25, atol=1e-6)
    grey = augment.color(images, _uniforms((0.5, 0.0, 0.5))).numpy()
    np.testing.assert_allclose(grey, np.repeat(images.numpy().mean(axis=3, keepdims=True), 3, axis=3), atol=1e-6)
    flat = augment.color(images, _uniforms((0.5, 0.5, 0.0))).numpy()  # contrast x 0.5
    mean = images.numpy().mean()
    np.testing.assert_allclose(flat, (images.numpy() - mean) * 0.5 + mean, atol=1e-6)
    one_channel = tf.constant(random_images(1, (4, 4, 1)))
    np.testing.assert_allclose(augment.color(one_channel, _uniforms((0.5, 0.0, 0.5))), one_channel, atol=1e-6)


def test_translation_moves_content_by_the_drawn_shift_and_pads_with_zeros():
    image = np.zeros((1, 16, 16, 1), np.float32)
    image[0, 8, 8, 0] = 1.0
    # 16 // 8 = 2: the shift is floor(u * 5) - 2, so 0.99 -> +2 and 0.0 -> -2.
    moved = augment.translation(tf.constant(image), _uniforms((0.99, 0.0))).numpy()
    expected = np.zeros_like(image)
    expected[0, 10, 6, 0] = 1.0
    np.testing.assert_array_equal(moved, expected)

    full = tf.ones((1, 16, 16, 1))
    shifted = augment.translation(full, _uniforms((0.99, 0.0))).numpy()[0, :, :, 0]
    assert np.all(shifted[:2] == 0) and np.all(shifted[:, -2:] == 0) and np.all(shifted[2:, :-2] == 1)


def test_translation_through_augment_shifts_each_row_within_an_eighth():
    image = np.zeros((32, 16, 24, 2), np.float32)
    image[:, 8, 12, :] = 1.0
    moved = _augment(image, "translation")
    shifts = set()
    for row in moved:
        positions = np.argwhere(row[..., 0] == 1.0)
        assert positions.shape == (1, 2) and np.count_nonzero(row) == 2
        dy, dx = positions[0] - (8, 12)
        assert abs(dy) <= 2 and abs(dx) <= 3
        shifts.add((dy, dx))
    assert len(shifts) > 5


def test_cutout_zeroes_half_the_image_clipped_to_the_border():
    images = tf.ones((2, 16, 12, 1))
    # Lengths 8 x 6; centres floor(u * 17) and floor(u * 13): row 0 / 16, column 0 / 12.
    cut = augment.cutout(images, _uniforms((0.0, 0.0), (0.999, 0.999))).numpy()[..., 0] == 0
    expected = np.zeros((2, 16, 12), bool)
    expected[0, 0:4, 0:3] = True
    expected[1, 12:16, 9:12] = True
    np.testing.assert_array_equal(cut, expected)
    centred = augment.cutout(images, _uniforms((0.5, 0.5))).numpy()[0, ..., 0] == 0
    assert centred.sum() == 8 * 6


# --------------------------------------------------------------- gradients
@pytest.mark.parametrize("name", NAMES)
def test_gradients_flow_to_the_images(name):
    images = tf.constant(random_images(8, (16, 16, 3)))
    weights = tf.constant(random_images(8, (16, 16, 3), seed=1))
    with tf.GradientTape() as tape:
        tape.watch(images)
        total = tf.reduce_sum(augment.augment(images, name, 3, 0, "augment_generator") * weights)
    gradient = tape.gradient(total, images).numpy()
    assert np.all(np.isfinite(gradient)) and np.any(gradient != 0)
    if name == "cutout":  # the output is images * mask: the gradient is weights * mask, zero inside the cut
        mask = augment.augment(tf.ones_like(images), name, 3, 0, "augment_generator").numpy()
        assert np.any(mask == 0)
        np.testing.assert_array_equal(gradient, weights.numpy() * mask)
    if name == "translation":  # a linear map: <T x, w> == <x, T^T w>
        np.testing.assert_allclose(np.sum(images.numpy() * gradient), total.numpy(), rtol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_match_finite_differences(name):
    images = tf.constant(random_images(2, (8, 8, 2)).astype("float64"))

    def augmented(x):
        return augment.augment(x, name, 3, 0, "augment_real", probability=0.5)

    theoretical, numerical = tf.test.compute_gradient(augmented, [images])
    np.testing.assert_allclose(theoretical[0], numerical[0], atol=1e-6)


# ------------------------------------------------------- graphs and replicas
def test_runs_compiled_with_an_unknown_batch_size():
    signature = [tf.TensorSpec([None, 16, 12, 3], tf.float32), tf.TensorSpec([], tf.int64)]

    @tf.function(input_signature=signature, jit_compile=True)
    def step(images, counter):
        return augment.augment(images, "color,translation,cutout", 3, counter, "augment_real", probability=0.5)

    images = tf.constant(random_images(6, (16, 12, 3)))
    first = step(images, tf.constant(0, tf.int64)).numpy()
    assert first.shape == images.shape and np.all(np.isfinite(first))
    np.testing.assert_array_equal(step(images, tf.constant(0, tf.int64)).numpy(), first)
    np.testing.assert_array_equal(step(images[:4], tf.constant(0, tf.int64)).numpy(), first[:4])


def test_two_replicas_augment_each_row_like_one_device():
    code = textwrap.dedent(
        """
        import numpy as np, tensorflow as tf
        from tfgen import augment, distribute

        devices = distribute.split_cpu(2)
        images = np.random.default_rng(0).uniform(-1, 1, (8, 16, 16, 3)).astype("float32")
        policy = "color,translation,cutout"

        def run(x):
            return augment.augment(x, policy, 5, tf.constant(7), "augment_fake", probability=0.6)

        single = run(tf.constant(images)).numpy()
        strategy = tf.distribute.MirroredStrategy(devices)
        dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(images).batch(8))
        per_replica = strategy.run(tf.function(run), args=(next(iter(dataset)),))
        parts = [t.numpy() for t in strategy.experimental_local_results(per_replica)]
        assert [p.shape[0] for p in parts] == [4, 4]
        assert not np.array_equal(parts[0], single[4:])
        np.testing.assert_array_equal(np.concatenate(parts), single)
        print("OK")
        """
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO_ROOT)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr[-3000:]
