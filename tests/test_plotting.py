import numpy as np
import pytest
import tensorflow as tf

from tfgen import plotting


def _decode_png(path):
    return tf.io.decode_png(tf.io.read_file(path)).numpy()


def _images(num_images=10, height=8, width=8, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, size=(num_images, height, width, channels)).astype("float32")


# ---------------------------------------------------------------------------
# image_grid
# ---------------------------------------------------------------------------


def test_image_grid_shape_with_num_rows():
    grid = plotting.image_grid(_images(10, 8, 8, 1), num_rows=2)
    # 2 rows x 5 columns of 8x8 tiles, 1 px padding between and around.
    assert grid.shape == (2 * 9 + 1, 5 * 9 + 1, 1)
    assert grid.dtype == np.uint8


def test_image_grid_default_is_square_and_keeps_rgb():
    grid = plotting.image_grid(_images(10, 4, 6, 3))
    # ceil(sqrt(10)) = 4 columns, ceil(10 / 4) = 3 rows.
    assert grid.shape == (3 * 5 + 1, 4 * 7 + 1, 3)


def test_image_grid_maps_values_and_places_tiles_row_major():
    images = np.stack(
        [np.full((2, 2, 1), -1.0), np.full((2, 2, 1), 1.0), np.full((2, 2, 1), 0.0)]
    ).astype("float32")
    grid = plotting.image_grid(images, num_rows=2)  # 2 columns, last cell empty
    assert grid.shape == (7, 7, 1)
    np.testing.assert_array_equal(grid[1:3, 1:3], 0)  # -1 -> 0
    np.testing.assert_array_equal(grid[1:3, 4:6], 255)  # 1 -> 255
    np.testing.assert_array_equal(grid[4:6, 1:3], 128)  # 0 -> round(127.5)
    np.testing.assert_array_equal(grid[0, :], plotting.GRID_PAD_VALUE)
    np.testing.assert_array_equal(grid[:, 3], plotting.GRID_PAD_VALUE)
    np.testing.assert_array_equal(grid[4:6, 4:6], plotting.GRID_PAD_VALUE)  # empty cell


def test_image_grid_accepts_tensors_and_round_off_overshoot():
    images = tf.constant(np.full((2, 3, 3, 1), 1.0 + 1e-5, "float32"))
    grid = plotting.image_grid(images)
    np.testing.assert_array_equal(grid[1:4, 1:4], 255)


def test_image_grid_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"rank 4.*\(8, 8, 1\)"):
        plotting.image_grid(np.zeros((8, 8, 1), "float32"))


def test_image_grid_rejects_out_of_range_values():
    images = np.zeros((2, 4, 4, 1), "float32")
    images[0, 0, 0, 0] = 255.0
    with pytest.raises(ValueError, match=r"\[-1, 1\].*min=0.*max=255"):
        plotting.image_grid(images)


def test_image_grid_rejects_nan_channels_and_bad_num_rows():
    with pytest.raises(ValueError, match="NaN"):
        plotting.image_grid(np.full((1, 2, 2, 1), np.nan, "float32"))
    with pytest.raises(ValueError, match="channels"):
        plotting.image_grid(np.zeros((1, 2, 2, 2), "float32"))
    with pytest.raises(ValueError, match="num_rows"):
        plotting.image_grid(np.zeros((3, 2, 2, 1), "float32"), num_rows=4)


# ---------------------------------------------------------------------------
# PNG writers
# ---------------------------------------------------------------------------


def test_save_image_grid_writes_exact_png_in_new_directory(tmp_path):
    images = _images(10, 8, 8, 1)
    path = plotting.save_image_grid(images, tmp_path / "new" / "dir" / "grid.png", num_rows=2)
    assert path == str(tmp_path / "new" / "dir" / "grid.png")
    decoded = _decode_png(path)
    np.testing.assert_array_equal(decoded, plotting.image_grid(images, num_rows=2))


def test_save_image_grid_with_title_writes_larger_png(tmp_path):
    path = plotting.save_image_grid(_images(4, 8, 8, 3), tmp_path / "titled.png", title="epoch 1")
    decoded = _decode_png(path)
    assert decoded.shape[0] > 19 and decoded.shape[1] > 19


def test_save_reconstructions(tmp_path):
    originals = _images(6, 8, 8, 1, seed=0)
    path = plotting.save_reconstructions(
        originals, originals * 0.5, tmp_path / "reconstructions.png", title="vae"
    )
    assert _decode_png(path).ndim == 3
    with pytest.raises(ValueError, match="same shape"):
        plotting.save_reconstructions(originals, originals[:3], tmp_path / "bad.png")


def test_save_points_with_means(tmp_path):
    points = np.random.default_rng(0).normal(size=(200, 2))
    means = np.array([[1.0, 0.0], [0.0, 1.0]])
    path = plotting.save_points(points, tmp_path / "points.png", means=means, title="ring")
    assert _decode_png(path).shape[-1] in (3, 4)
    with pytest.raises(ValueError, match=r"\[N, 2\].*\(5, 3\)"):
        plotting.save_points(np.zeros((5, 3)), tmp_path / "bad.png")


def test_save_latent_scatter(tmp_path):
    rng = np.random.default_rng(0)
    path = plotting.save_latent_scatter(
        rng.normal(size=(50, 2)), rng.integers(0, 10, size=50), tmp_path / "latent.png"
    )
    assert _decode_png(path).ndim == 3
    with pytest.raises(ValueError, match=r"\[N, 2\].*\(50, 3\)"):
        plotting.save_latent_scatter(np.zeros((50, 3)), np.zeros(50), tmp_path / "bad.png")
    with pytest.raises(ValueError, match="labels"):
        plotting.save_latent_scatter(np.zeros((50, 2)), np.zeros(49), tmp_path / "bad.png")


def test_save_latent_scatter_with_class_names(tmp_path):
    rng = np.random.default_rng(0)
    names = ["zero", "one", "two"]
    path = plotting.save_latent_scatter(
        rng.normal(size=(30, 2)), rng.integers(0, 3, size=30), tmp_path / "named.png", class_names=names
    )
    assert _decode_png(path).ndim == 3
    with pytest.raises(ValueError, match=r"class_names.*from 0 to 3"):
        plotting.save_latent_scatter(np.zeros((2, 2)), [0, 3], tmp_path / "bad.png", class_names=names)


def test_save_image_panels_one_labelled_grid_per_panel(tmp_path):
    one = plotting.save_image_panels({"a": _images(4)}, tmp_path / "one.png", num_rows=1)
    three = plotting.save_image_panels(
        {"a": _images(4, seed=0), "b": _images(4, seed=1), "c": _images(4, seed=2)},
        tmp_path / "three.png",
        num_rows=1,
        title="compare",
    )
    # Three panels side by side make a wider picture than one.
    assert _decode_png(three).shape[1] > _decode_png(one).shape[1]
    with pytest.raises(ValueError, match="same shape"):
        plotting.save_image_panels({"a": _images(4), "b": _images(3)}, tmp_path / "bad.png")
    with pytest.raises(ValueError, match="non-empty dict"):
        plotting.save_image_panels({}, tmp_path / "bad.png")
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        plotting.save_image_panels({"a": _images(2) * 3}, tmp_path / "bad.png")


def test_save_point_panels(tmp_path):
    rng = np.random.default_rng(0)
    panels = {"early": rng.normal(size=(100, 2)), "late": rng.normal(size=(100, 2)) * 0.1}
    path = plotting.save_point_panels(panels, tmp_path / "points.png", means=[[1.0, 0.0], [0.0, 1.0]])
    assert _decode_png(path).shape[1] > _decode_png(path).shape[0]  # panels side by side
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        plotting.save_point_panels({"bad": np.zeros((5, 3))}, tmp_path / "bad.png")
    with pytest.raises(ValueError, match="non-empty dict"):
        plotting.save_point_panels([], tmp_path / "bad.png")


def test_save_mode_coverage_writes_chart_and_validates(tmp_path):
    means = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    points = np.repeat(means[:2], 50, axis=0) + np.random.default_rng(0).normal(scale=0.1, size=(100, 2))
    path = plotting.save_mode_coverage(points, means, 0.1, tmp_path / "coverage.png", title="toy")
    assert _decode_png(path).ndim == 3
    with pytest.raises(ValueError, match="std"):
        plotting.save_mode_coverage(points, means, 0.0, tmp_path / "bad.png")


def test_save_loss_curves(tmp_path):
    history = {"d_loss": [1.0, 0.8, 0.7], "g_loss": [2.0, 1.5, 1.2], "val_d_loss": [1.1, 0.9, 0.8]}
    path = plotting.save_loss_curves(history, tmp_path / "losses.png")
    assert _decode_png(path).ndim == 3
    with pytest.raises(ValueError, match="non-empty"):
        plotting.save_loss_curves({}, tmp_path / "bad.png")


# ---------------------------------------------------------------------------
# Latent interpolation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("spherical", [False, True])
def test_interpolate_latents_endpoints_equal_inputs(spherical):
    rng = np.random.default_rng(0)
    z_start, z_end = rng.normal(size=5), rng.normal(size=(1, 5))
    path = plotting.interpolate_latents(z_start, z_end, num_steps=7, spherical=spherical)
    assert path.shape == (7, 5) and path.dtype == np.float32
    np.testing.assert_allclose(path[0], z_start, rtol=1e-6)
    np.testing.assert_allclose(path[-1], z_end[0], rtol=1e-6)


def test_interpolate_latents_linear_midpoint():
    path = plotting.interpolate_latents(np.zeros(2), np.array([2.0, 4.0]), num_steps=3)
    np.testing.assert_allclose(path, [[0, 0], [1, 2], [2, 4]])


def test_slerp_keeps_norm_of_equal_norm_endpoints():
    rng = np.random.default_rng(1)
    z_start = rng.normal(size=16)
    z_end = rng.normal(size=16)
    z_end *= np.linalg.norm(z_start) / np.linalg.norm(z_end)
    path = plotting.interpolate_latents(z_start, z_end, num_steps=9, spherical=True)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linalg.norm(z_start), rtol=1e-5)
    # The linear path cuts through the ball instead.
    linear = plotting.interpolate_latents(z_start, z_end, num_steps=9)
    assert np.linalg.norm(linear[4]) < 0.99 * np.linalg.norm(z_start)


def test_interpolate_latents_validates():
    with pytest.raises(ValueError, match="num_steps"):
        plotting.interpolate_latents(np.zeros(2), np.ones(2), num_steps=1)
    with pytest.raises(ValueError, match="same shape"):
        plotting.interpolate_latents(np.zeros(2), np.ones(3), num_steps=3)


class _LinearVAE:
    """Encodes an image to its mean pixel; decodes z to a constant image."""

    latent_dim = 1

    def __init__(self):
        self.decoded_z = None

    def encode(self, images):
        z_mean = tf.reduce_mean(images, axis=[1, 2, 3])[:, None]
        return z_mean, tf.zeros_like(z_mean)

    def decode(self, z):
        self.decoded_z = np.asarray(z)
        return tf.tile(tf.reshape(z, [-1, 1, 1, 1]), [1, 4, 4, 1])


def test_save_interpolation_decodes_path_between_encodings(tmp_path):
    model = _LinearVAE()
    image_a = np.full((4, 4, 1), -1.0, "float32")
    image_b = np.full((1, 4, 4, 1), 1.0, "float32")
    path = plotting.save_interpolation(model, image_a, image_b, tmp_path / "strip.png", num_steps=5)
    np.testing.assert_allclose(model.decoded_z[:, 0], [-1, -0.5, 0, 0.5, 1])
    strip = _decode_png(path)
    assert strip.shape == (4 + 2, 5 * 5 + 1, 1)
    assert strip[1, 1, 0] == 0 and strip[1, 21, 0] == 255
