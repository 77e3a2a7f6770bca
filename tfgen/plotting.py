"""Pictures of generative models: sample grids, reconstructions, latent paths.

Everything here turns arrays into PNG files (or, for :func:`image_grid`, into a
uint8 array). Images follow the tfgen convention: float32 ``[N, H, W, C]`` in
``[-1, 1]`` with ``C`` in ``{1, 3, 4}``; 2-D point samples are ``[N, 2]``.

Figures are drawn with matplotlib's object-oriented API on an Agg canvas
(``matplotlib.figure.Figure`` + ``FigureCanvasAgg``), never through
``pyplot``. That keeps this module headless-safe without calling
``matplotlib.use`` (which would change the backend of a user's notebook), and
no figure is registered with pyplot, so there is nothing to show or to leak.

Files are written through ``tf.io.gfile``, so ``path`` may also be a remote
URL that TensorFlow understands (``gs://...``). Parent directories are created.

Example:

```python
import numpy as np
from tfgen import plotting

images = np.random.uniform(-1, 1, size=(16, 28, 28, 1)).astype("float32")
grid = plotting.image_grid(images, num_rows=2)  # uint8 [59, 233, 1]
plotting.save_image_grid(images, "/tmp/tfgen/samples.png", title="epoch 1")
```
"""

import io
import math
import os

import numpy as np
import tensorflow as tf
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
import matplotlib

from tfgen import validation

# Pixels between tiles (and around the border) of a grid, and their value.
GRID_PADDING = 1
GRID_PAD_VALUE = 255
_VALID_CHANNELS = (1, 3, 4)
# Pictures drawn with matplotlib are upscaled to at least this many pixels wide
# so that small (e.g. 28x28) tiles stay visible.
_MIN_FIGURE_PIXELS = 512
_DPI = 100


# ---------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------


def _to_numpy(values, dtype=np.float32):
    if hasattr(values, "numpy"):
        values = values.numpy()
    return np.asarray(values, dtype=dtype)


def _check_images(images, name="images"):
    """Returns ``images`` as float32 NumPy ``[N, H, W, C]`` in [-1, 1] or raises."""
    images = _to_numpy(images)
    if images.ndim != 4:
        raise ValueError(
            f"`{name}` must have rank 4 [N, H, W, C]; received shape {images.shape}."
        )
    if images.shape[0] == 0:
        raise ValueError(f"`{name}` must hold at least one image; received shape {images.shape}.")
    if images.shape[-1] not in _VALID_CHANNELS:
        raise ValueError(
            f"`{name}` must have {_VALID_CHANNELS} channels (last axis); "
            f"received shape {images.shape}."
        )
    if not np.all(np.isfinite(images)):
        raise ValueError(f"`{name}` contains NaN or infinite values (shape {images.shape}).")
    low, high = float(images.min()), float(images.max())
    if low < -1.0 - validation.RANGE_TOLERANCE or high > 1.0 + validation.RANGE_TOLERANCE:
        raise ValueError(
            f"`{name}` must be in [-1, 1] (tolerance {validation.RANGE_TOLERANCE}); received "
            f"min={low:.4g}, max={high:.4g} for shape {images.shape}. Rescale "
            "[0, 1] images with `x * 2 - 1` and [0, 255] images with `x / 127.5 - 1`."
        )
    return images


def _check_points(points, name="points"):
    """Returns ``points`` as float64 NumPy ``[N, 2]`` or raises."""
    points = _to_numpy(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"`{name}` must have shape [N, 2]; received shape {points.shape}.")
    return points


def _check_num_steps(num_steps):
    if not validation.is_int(num_steps) or num_steps < 2:
        raise ValueError(
            f"`num_steps` must be an integer >= 2 (it includes both endpoints); "
            f"received {num_steps!r}."
        )


# ---------------------------------------------------------------------------
# Output helpers
# ---------------------------------------------------------------------------


def _prepare_path(path):
    path = os.fspath(path)
    parent = os.path.dirname(path)
    if parent:
        tf.io.gfile.makedirs(parent)
    return path


def _write_bytes(path, data):
    path = _prepare_path(path)
    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(data)
    return path


def _new_figure(width_inches, height_inches):
    figure = Figure(figsize=(width_inches, height_inches), dpi=_DPI)
    FigureCanvasAgg(figure)
    return figure


def _save_figure(figure, path):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight")
    # Drop the figure's artists now rather than at garbage collection.
    figure.clear()
    return _write_bytes(path, buffer.getvalue())


def _show_grid(axes, grid, title=None):
    """Draws a uint8 ``[H, W, C]`` grid on ``axes`` pixel-exactly."""
    if grid.shape[-1] == 1:
        axes.imshow(grid[..., 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    else:
        axes.imshow(grid, interpolation="nearest")
    axes.set_axis_off()
    if title is not None:
        axes.set_title(title)


def _figure_size(grid_height, grid_width, num_panels=1):
    """Inches for ``num_panels`` side-by-side grids, upscaled to stay legible."""
    total_width = grid_width * num_panels
    # At least _MIN_FIGURE_PIXELS in all, and half of that per panel (room for its title).
    minimum_width = max(_MIN_FIGURE_PIXELS, num_panels * _MIN_FIGURE_PIXELS // 2)
    scale = max(1, math.ceil(minimum_width / total_width))
    return total_width * scale / _DPI, grid_height * scale / _DPI + 0.4


# ---------------------------------------------------------------------------
# Image grids
# ---------------------------------------------------------------------------


def to_uint8(images):
    """Maps images in [-1, 1] to uint8 pixels (-1 -> 0, 1 -> 255).

    Args:
        images: float ``[N, H, W, C]`` in ``[-1, 1]`` (tensor or NumPy).

    Returns:
        uint8 NumPy array of the same shape.

    Raises:
        ValueError: if ``images`` is not rank 4, has an unsupported number of
            channels, or is outside ``[-1, 1]`` beyond ``tfgen.validation.RANGE_TOLERANCE``.
    """
    images = _check_images(images)
    return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def image_grid(images, num_rows=None):
    """Tiles images into one uint8 picture with 1 px white padding.

    Tiles fill the grid row by row. By default the grid is as square as
    possible (``num_columns = ceil(sqrt(N))``); with ``num_rows`` given,
    ``num_columns = ceil(N / num_rows)``. Unused cells are left white. The
    output has ``num_rows * (H + 1) + 1`` rows and ``num_columns * (W + 1) + 1``
    columns, because the padding also runs around the border.

    Args:
        images: float ``[N, H, W, C]`` in ``[-1, 1]``, ``C`` in ``{1, 3, 4}``
            (tensor or NumPy).
        num_rows: optional int in ``[1, N]``, number of grid rows.

    Returns:
        uint8 NumPy ``[num_rows * (H + 1) + 1, num_columns * (W + 1) + 1, C]``;
        greyscale images stay 1-channel.

    Raises:
        ValueError: for a bad rank, channel count, value range or ``num_rows``.

    Example:

    ```python
    images = np.zeros((10, 8, 8, 1), "float32")
    image_grid(images, num_rows=2).shape  # (19, 46, 1)
    ```
    """
    pixels = to_uint8(images)
    num_images, height, width, channels = pixels.shape
    if num_rows is None:
        num_columns = math.ceil(math.sqrt(num_images))
        num_rows = math.ceil(num_images / num_columns)
    else:
        if not validation.is_int(num_rows) or not 1 <= num_rows <= num_images:
            raise ValueError(
                f"`num_rows` must be an integer in [1, {num_images}] (the number of "
                f"images); received {num_rows!r}."
            )
        num_rows = int(num_rows)
        num_columns = math.ceil(num_images / num_rows)

    pad = GRID_PADDING
    grid = np.full(
        (num_rows * (height + pad) + pad, num_columns * (width + pad) + pad, channels),
        GRID_PAD_VALUE,
        dtype=np.uint8,
    )
    for index in range(num_images):
        row, column = divmod(index, num_columns)
        top = pad + row * (height + pad)
        left = pad + column * (width + pad)
        grid[top : top + height, left : left + width] = pixels[index]
    return grid


def save_image_grid(images, path, num_rows=None, title=None):
    """Writes :func:`image_grid` of ``images`` to a PNG file.

    Without a title the PNG is the exact pixel grid (same size and channels as
    :func:`image_grid`). With a title the grid is drawn by matplotlib, upscaled
    with nearest-neighbour sampling, and the title placed above it.

    Args:
        images: float ``[N, H, W, C]`` in ``[-1, 1]``.
        path: destination file (str or path-like); parent directories are created.
        num_rows: optional number of grid rows (see :func:`image_grid`).
        title: optional str drawn above the grid.

    Returns:
        ``path`` as a str.

    Example:

    ```python
    save_image_grid(model.generate(64, seed=0), "runs/samples.png", title="epoch 5")
    ```
    """
    grid = image_grid(images, num_rows=num_rows)
    if title is None:
        return _write_bytes(path, tf.io.encode_png(grid).numpy())
    figure = _new_figure(*_figure_size(grid.shape[0], grid.shape[1]))
    _show_grid(figure.add_subplot(1, 1, 1), grid, title=str(title))
    return _save_figure(figure, path)


def save_reconstructions(originals, reconstructions, path, num_rows=None, title=None):
    """Writes originals and their reconstructions as two labelled panels.

    The left panel ("Original") and the right panel ("Reconstruction") use the
    same grid layout, so tile ``i`` on the left corresponds to tile ``i`` on
    the right.

    Args:
        originals: float ``[N, H, W, C]`` in ``[-1, 1]``.
        reconstructions: float ``[N, H, W, C]`` in ``[-1, 1]``, same shape as
            ``originals`` (e.g. ``vae.reconstruct(originals)``).
        path: destination PNG file; parent directories are created.
        num_rows: optional number of grid rows in each panel.
        title: optional str drawn above both panels.

    Returns:
        ``path`` as a str.

    Raises:
        ValueError: if the two inputs differ in shape or are not valid images.

    Example:

    ```python
    batch = next(iter(dataset))[:16]
    save_reconstructions(batch, vae.reconstruct(batch), "runs/reconstructions.png")
    ```
    """
    originals = _check_images(originals, name="originals")
    reconstructions = _check_images(reconstructions, name="reconstructions")
    if originals.shape != reconstructions.shape:
        raise ValueError(
            "`originals` and `reconstructions` must have the same shape; received "
            f"{originals.shape} and {reconstructions.shape}."
        )
    return save_image_panels(
        {"Original": originals, "Reconstruction": reconstructions}, path, num_rows=num_rows, title=title
    )


def save_image_panels(panels, path, num_rows=None, title=None):
    """Writes several image grids side by side, each with its label above it.

    For comparisons: EMA against raw generator, one replica against two,
    samples at several points of training. Every panel is laid out by
    :func:`image_grid` with the same ``num_rows``.

    Args:
        panels: dict ``{label: images}`` (insertion order is left to right),
            each images float ``[N, H, W, C]`` in ``[-1, 1]``; all panels must
            have the same shape.
        path: destination PNG file; parent directories are created.
        num_rows: optional number of grid rows in each panel.
        title: optional str drawn above all panels.

    Returns:
        ``path`` as a str.

    Raises:
        ValueError: if ``panels`` is empty or not a dict, or the panels are
            not valid images of one shape.

    Example:

    ```python
    save_image_panels({"EMA": gan.generate(16, seed=0),
                       "raw": gan.generate(16, seed=0, use_ema=False)}, "runs/ema.png")
    ```
    """
    if not isinstance(panels, dict) or not panels:
        raise ValueError(f"`panels` must be a non-empty dict {{label: images}}; received {panels!r}.")
    checked = {str(label): _check_images(images, name=f"panels[{label!r}]") for label, images in panels.items()}
    shapes = {label: images.shape for label, images in checked.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"Every panel must have the same shape; received {shapes}.")
    grids = {label: image_grid(images, num_rows) for label, images in checked.items()}
    first = next(iter(grids.values()))
    figure = _new_figure(*_figure_size(first.shape[0], first.shape[1], num_panels=len(grids)))
    for index, (label, grid) in enumerate(grids.items()):
        _show_grid(figure.add_subplot(1, len(grids), index + 1), grid, title=label)
    if title is not None:
        figure.suptitle(str(title))
    return _save_figure(figure, path)


# ---------------------------------------------------------------------------
# Latent interpolation
# ---------------------------------------------------------------------------


def _as_latent_vector(z, name):
    z = _to_numpy(z, dtype=np.float64)
    if z.ndim == 2 and z.shape[0] == 1:
        z = z[0]
    if z.ndim != 1:
        raise ValueError(f"`{name}` must have shape [D] or [1, D]; received shape {z.shape}.")
    return z


def interpolate_latents(z_start, z_end, num_steps, spherical=False):
    """Points on the path from ``z_start`` to ``z_end``, endpoints included.

    Linear interpolation is ``(1 - t) * z_start + t * z_end``. Spherical
    interpolation (slerp) follows the great circle between the two directions,
    ``sin((1 - t) w) / sin(w) * z_start + sin(t w) / sin(w) * z_end`` with
    ``w`` the angle between them; for endpoints of equal norm every point keeps
    that norm, which keeps samples in the typical set of a Gaussian prior.
    Slerp falls back to linear when the angle is ~0 or a vector is zero.
    (Antipodal endpoints have no unique great circle; slerp then also goes
    through the origin like the linear path.)

    Args:
        z_start: float ``[D]`` or ``[1, D]``.
        z_end: float ``[D]`` or ``[1, D]``, same ``D``.
        num_steps: int >= 2, number of points including both endpoints.
        spherical: bool, slerp instead of linear interpolation.

    Returns:
        float32 NumPy ``[num_steps, D]``; row 0 is ``z_start``, row -1 is ``z_end``.

    Example:

    ```python
    path = interpolate_latents(np.zeros(2), np.ones(2), num_steps=3)
    # [[0, 0], [0.5, 0.5], [1, 1]]
    ```
    """
    z_start = _as_latent_vector(z_start, "z_start")
    z_end = _as_latent_vector(z_end, "z_end")
    if z_start.shape != z_end.shape:
        raise ValueError(
            f"`z_start` and `z_end` must have the same shape; received {z_start.shape} "
            f"and {z_end.shape}."
        )
    _check_num_steps(num_steps)
    t = np.linspace(0.0, 1.0, num_steps)[:, None]
    start_weight, end_weight = 1.0 - t, t
    if spherical:
        norm_start, norm_end = np.linalg.norm(z_start), np.linalg.norm(z_end)
        if norm_start > 0 and norm_end > 0:
            cosine = np.clip(np.dot(z_start, z_end) / (norm_start * norm_end), -1.0, 1.0)
            angle = np.arccos(cosine)
            if np.sin(angle) > 1e-6:
                start_weight = np.sin((1.0 - t) * angle) / np.sin(angle)
                end_weight = np.sin(t * angle) / np.sin(angle)
    path = start_weight * z_start[None, :] + end_weight * z_end[None, :]
    # Make the endpoints exact despite the trigonometry.
    path[0], path[-1] = z_start, z_end
    return path.astype(np.float32)


def _as_single_image(image, name):
    image = _to_numpy(image)
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4 or image.shape[0] != 1:
        raise ValueError(
            f"`{name}` must be one image [H, W, C] or [1, H, W, C]; received shape "
            f"{image.shape}."
        )
    return image


def save_interpolation(model, image_a, image_b, path, num_steps=10, spherical=False, title=None):
    """Decodes the latent path between two images and saves it as a strip.

    Both images are encoded with ``model.encode`` and the posterior means
    ``z_mean`` are interpolated with :func:`interpolate_latents`, then decoded
    with ``model.decode``. The strip is one row of ``num_steps`` images, from
    ``image_a``'s reconstruction to ``image_b``'s.

    Args:
        model: a VAE-like object with ``encode(images) -> (z_mean, z_log_var)``
            and ``decode(z) -> images in [-1, 1]``.
        image_a: float ``[H, W, C]`` or ``[1, H, W, C]`` in ``[-1, 1]``.
        image_b: same shape as ``image_a``.
        path: destination PNG file; parent directories are created.
        num_steps: int >= 2, images in the strip including both ends.
        spherical: bool, slerp instead of linear interpolation.
        title: optional str drawn above the strip.

    Returns:
        ``path`` as a str.

    Example:

    ```python
    save_interpolation(vae, x_test[0], x_test[1], "runs/interpolation.png", num_steps=8)
    ```
    """
    image_a = _as_single_image(image_a, "image_a")
    image_b = _as_single_image(image_b, "image_b")
    if image_a.shape != image_b.shape:
        raise ValueError(
            f"`image_a` and `image_b` must have the same shape; received "
            f"{image_a.shape[1:]} and {image_b.shape[1:]}."
        )
    _check_num_steps(num_steps)
    _check_images(np.concatenate([image_a, image_b]), name="image_a and image_b")
    z_mean, _ = model.encode(np.concatenate([image_a, image_b]))
    z_mean = _to_numpy(z_mean)
    path_in_latent_space = interpolate_latents(
        z_mean[0], z_mean[1], num_steps, spherical=spherical
    )
    decoded = model.decode(path_in_latent_space)
    return save_image_grid(decoded, path, num_rows=1, title=title)


# ---------------------------------------------------------------------------
# Points, latent spaces and training curves
# ---------------------------------------------------------------------------


def save_points(points, path, means=None, title=None):
    """Scatter plot of 2-D samples, optionally with the target mixture means.

    Used for GAN mode-coverage pictures on toy data (ring of 8 or grid of 25
    Gaussians): dropped modes show up as means with no samples around them.

    Args:
        points: float ``[N, 2]`` samples.
        path: destination PNG file; parent directories are created.
        means: optional float ``[K, 2]`` mixture means, drawn as red crosses.
        title: optional str.

    Returns:
        ``path`` as a str.

    Example:

    ```python
    save_points(gan.generate(1000, seed=0), "runs/points.png", means=ring_means)
    ```
    """
    points = _check_points(points)
    figure = _new_figure(5, 5)
    axes = figure.add_subplot(1, 1, 1)
    axes.scatter(points[:, 0], points[:, 1], s=4, alpha=0.5, label="samples")
    if means is not None:
        means = _check_points(means, name="means")
        axes.scatter(
            means[:, 0], means[:, 1], s=60, c="red", marker="x", linewidths=2, label="means"
        )
        axes.legend(loc="upper right")
    axes.set_aspect("equal", adjustable="datalim")
    axes.grid(True, alpha=0.3)
    if title is not None:
        axes.set_title(str(title))
    return _save_figure(figure, path)


def save_point_panels(panels, path, means=None, title=None):
    """Scatter plots of several sets of 2-D samples side by side, on shared axes.

    For a GAN on ``ring8`` or ``grid25`` at several points of training: the
    panels share their axis limits, so a generator that collapses onto a
    few modes, or spreads between them, is easy to see.

    Args:
        panels: dict ``{label: points}`` (left to right), each float ``[N, 2]``.
        path: destination PNG file; parent directories are created.
        means: optional float ``[K, 2]`` mixture means, drawn as red crosses
            in every panel.
        title: optional str drawn above all panels.

    Returns:
        ``path`` as a str.

    Raises:
        ValueError: if ``panels`` is empty or not a dict, or a panel (or
            ``means``) is not ``[N, 2]``.

    Example:

    ```python
    save_point_panels({"step 500": early, "step 3000": late}, "runs/ring8.png",
                      means=tfgen.data.mixtures.mixture_means("ring8"))
    ```
    """
    if not isinstance(panels, dict) or not panels:
        raise ValueError(f"`panels` must be a non-empty dict {{label: points}}; received {panels!r}.")
    checked = {str(label): _check_points(points, name=f"panels[{label!r}]") for label, points in panels.items()}
    if means is not None:
        means = _check_points(means, name="means")
    everything = np.concatenate(list(checked.values()) + ([means] if means is not None else []))
    finite = everything[np.all(np.isfinite(everything), axis=1)]
    if finite.size:
        low, high = finite.min(axis=0), finite.max(axis=0)
    else:
        low, high = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
    margin = 0.05 * np.maximum(high - low, 1e-6)
    low, high = low - margin, high + margin
    figure = _new_figure(3 * len(checked), 3.3)
    for index, (label, points) in enumerate(checked.items()):
        axes = figure.add_subplot(1, len(checked), index + 1)
        axes.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4)
        if means is not None:
            axes.scatter(means[:, 0], means[:, 1], s=30, c="red", marker="x", linewidths=1.5)
        axes.set_xlim(low[0], high[0])
        axes.set_ylim(low[1], high[1])
        axes.set_aspect("equal", adjustable="box")
        axes.set_title(label)
        axes.tick_params(labelsize=7)
    if title is not None:
        figure.suptitle(str(title))
    return _save_figure(figure, path)


def save_mode_coverage(points, means, std, path, title=None):
    """Bar chart of how generated 2-D samples spread over a mixture's modes.

    Every sample is assigned to its nearest mean; bars count the
    *high-quality* samples (within ``3 * std`` of that mean), as in
    :func:`tfgen.metrics.mode_coverage`, whose numbers (modes captured,
    high-quality fraction, KL to uniform) are printed in the title. The
    dashed line is what perfectly even coverage would give.

    Args:
        points: float ``[N, 2]`` generated samples.
        means: float ``[K, 2]`` mixture means
            (``tfgen.data.mixtures.mixture_means(name)``).
        std: positive float, the components' standard deviation
            (``tfgen.data.mixtures.mixture_std(name)``).
        path: destination PNG file; parent directories are created.
        title: optional str; the coverage figures are appended to it.

    Returns:
        ``path`` as a str.

    Raises:
        ValueError: as :func:`tfgen.metrics.mode_coverage` does.

    Example:

    ```python
    save_mode_coverage(gan.generate(2500, seed=0), mixtures.mixture_means("grid25"),
                       mixtures.mixture_std("grid25"), "runs/grid25_coverage.png")
    ```
    """
    # Imported here: tfgen.metrics pulls in the feature extractors.
    from tfgen.metrics.mode_coverage import HIGH_QUALITY_STDS, mode_coverage, nearest_modes

    points = _check_points(points)
    means = _check_points(means, name="means")
    coverage = mode_coverage(points, means, std)
    indices, distances = nearest_modes(points, means)
    high_quality = distances <= HIGH_QUALITY_STDS * float(std)
    counts = np.bincount(indices[high_quality], minlength=means.shape[0])
    figure = _new_figure(max(4, 0.25 * means.shape[0] + 2), 3)
    axes = figure.add_subplot(1, 1, 1)
    axes.bar(np.arange(means.shape[0]), counts, color=["tab:blue" if c else "tab:red" for c in counts])
    if counts.sum():
        axes.axhline(counts.sum() / means.shape[0], color="black", linestyle="--", linewidth=1, label="uniform")
        axes.legend(loc="upper right", fontsize=8)
    axes.set_xlabel("mode")
    axes.set_ylabel("high-quality samples")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    summary = (
        f"{coverage['modes_captured']}/{coverage['num_modes']} modes, "
        f"{coverage['high_quality_fraction']:.0%} high quality, KL {coverage['kl_to_uniform']:.3f}"
    )
    axes.set_title(summary if title is None else f"{title}\n{summary}", fontsize=10)
    return _save_figure(figure, path)


def save_latent_scatter(z, labels, path, title=None, class_names=None):
    """Scatter plot of a 2-D latent space coloured by class.

    Meant for VAEs with ``latent_dim=2``: pass ``z_mean`` from
    ``model.encode(images)`` and the integer class of each image.

    Args:
        z: float ``[N, 2]`` latent codes.
        labels: int ``[N]`` class ids, or None for a single colour.
        path: destination PNG file; parent directories are created.
        title: optional str.
        class_names: optional sequence of str, the legend entry of class id
            ``i`` is ``class_names[i]`` (default: the id).

    Returns:
        ``path`` as a str.

    Raises:
        ValueError: if ``z`` is not ``[N, 2]`` or ``labels`` is not ``[N]``.

    Example:

    ```python
    z_mean, _ = vae.encode(x_test)
    save_latent_scatter(z_mean, y_test, "runs/latent.png")
    ```
    """
    z = _to_numpy(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(
            f"`z` must have shape [N, 2] (a 2-D latent space); received shape {z.shape}. "
            "Train with latent_dim=2 to use this plot."
        )
    figure = _new_figure(6, 5)
    axes = figure.add_subplot(1, 1, 1)
    if labels is None:
        axes.scatter(z[:, 0], z[:, 1], s=4, alpha=0.6)
    else:
        labels = _to_numpy(labels, dtype=np.int64)
        if labels.shape != (z.shape[0],):
            raise ValueError(
                f"`labels` must have shape [N] = [{z.shape[0]}] (integer class ids; use "
                f"argmax for one-hot labels); received shape {labels.shape}."
            )
        if class_names is not None and (labels.min() < 0 or labels.max() >= len(class_names)):
            raise ValueError(
                f"`labels` must be in [0, {len(class_names)}) to index `class_names`; received "
                f"values from {labels.min()} to {labels.max()}."
            )
        classes = np.unique(labels)
        colormap = matplotlib.colormaps["tab10" if len(classes) <= 10 else "tab20"]
        for position, label in enumerate(classes):
            chosen = labels == label
            axes.scatter(
                z[chosen, 0],
                z[chosen, 1],
                s=4,
                alpha=0.6,
                color=colormap(position % colormap.N),
                label=str(label) if class_names is None else str(class_names[label]),
            )
        axes.legend(title="class", markerscale=3, loc="center left", bbox_to_anchor=(1, 0.5))
    axes.set_xlabel("z[0]")
    axes.set_ylabel("z[1]")
    if title is not None:
        axes.set_title(str(title))
    return _save_figure(figure, path)


def save_loss_curves(history, path, title=None):
    """Plots every metric of a Keras training history against the epoch.

    Each metric gets its own panel; ``val_<name>`` is drawn in the panel of
    ``<name>`` (dashed), so training and validation curves share an axis.

    Args:
        history: ``History.history`` dict ``{name: [value per epoch]}`` or the
            ``keras.callbacks.History`` object returned by ``fit``.
        path: destination PNG file; parent directories are created.
        title: optional str drawn above all panels.

    Returns:
        ``path`` as a str.

    Raises:
        ValueError: if the history is empty or a value is not a 1-D sequence.

    Example:

    ```python
    history = gan.fit(dataset, epochs=5)
    save_loss_curves(history.history, "runs/losses.png")
    ```
    """
    history_dict = getattr(history, "history", history)
    if not isinstance(history_dict, dict) or not history_dict:
        raise ValueError(
            "`history` must be a non-empty dict {metric name: [value per epoch]} or a "
            f"keras History; received {history!r}."
        )
    curves = {}
    for name, values in history_dict.items():
        values = _to_numpy(values, dtype=np.float64)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(
                f"history[{name!r}] must be a non-empty 1-D sequence of numbers; received "
                f"shape {values.shape}."
            )
        curves[name] = values
    panels = []
    for name in curves:
        base = name[len("val_") :] if name.startswith("val_") else name
        if base not in curves:
            base = name
        if base not in panels:
            panels.append(base)

    num_columns = min(3, len(panels))
    num_rows = math.ceil(len(panels) / num_columns)
    figure = _new_figure(4 * num_columns, 3 * num_rows)
    for index, base in enumerate(panels):
        axes = figure.add_subplot(num_rows, num_columns, index + 1)
        for name, style in [(base, "-"), ("val_" + base, "--")]:
            if name in curves:
                epochs = np.arange(1, curves[name].size + 1)
                axes.plot(epochs, curves[name], style, marker=".", label=name)
        axes.set_title(base)
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(True, alpha=0.3)
        axes.legend()
    if title is not None:
        figure.suptitle(str(title))
    figure.tight_layout()
    return _save_figure(figure, path)


def save_objective_plot(trials, space, objective, path, title=None):
    """Plots a search's objective against each hyperparameter, one panel per setting.

    Completed trials are filled dots, pruned ones (their last reported value)
    hollow; the first trial of ``trials`` (the best, when they are sorted) is
    a star. Ranges searched on a log scale get a log axis; choices are
    placed side by side in their declared order.

    Args:
        trials: sequence of dicts with ``params`` ({setting: value}),
            ``value`` (float) and ``state`` (``"complete"`` or ``"pruned"``).
        space: ``{setting: {"low", "high"[, "log"]} or {"choices": [...]}}``.
        objective: name of the objective (the y axis).
        path: destination PNG file; parent directories are created.
        title: optional str drawn above all panels.

    Returns:
        ``path`` as a str.

    Raises:
        ValueError: ``space`` is empty.

    Example:

    ```python
    save_objective_plot([{"params": {"learning_rate": 2e-4}, "value": 31.0, "state": "complete"}],
                        {"learning_rate": {"low": 1e-5, "high": 1e-3, "log": True}}, "fashion_fd", "objective.png")
    ```
    """
    if not space:
        raise ValueError(f"Expected a non-empty search space, got {space!r}.")
    num_columns = min(3, len(space))
    num_rows = math.ceil(len(space) / num_columns)
    figure = _new_figure(4 * num_columns, 3 * num_rows)
    for index, (name, spec) in enumerate(space.items()):
        axes = figure.add_subplot(num_rows, num_columns, index + 1)
        choices = spec.get("choices")
        for rank, trial in enumerate(trials):
            if name not in trial["params"]:
                continue
            x = trial["params"][name]
            if choices is not None:
                x = choices.index(x) if x in choices else len(choices)
            filled = trial["state"] == "complete"
            axes.plot([x], [trial["value"]], "*" if rank == 0 and filled else "o",
                      markersize=12 if rank == 0 and filled else 6, color="C3" if rank == 0 and filled else "C0",
                      markerfacecolor=None if filled else "none", alpha=0.9 if filled else 0.6)
        if choices is not None:
            axes.set_xticks(range(len(choices)))
            axes.set_xticklabels(["none" if c is None else "''" if c == "" else str(c) for c in choices],
                                 rotation=20, fontsize=8)
            axes.set_xlim(-0.5, len(choices) - 0.5)
        else:  # the whole searched range, so that the reader sees where the good values lie
            if spec.get("log"):
                axes.set_xscale("log")
                margin = (spec["high"] / spec["low"]) ** 0.03
                axes.set_xlim(spec["low"] / margin, spec["high"] * margin)
            else:
                margin = 0.03 * (spec["high"] - spec["low"])
                axes.set_xlim(spec["low"] - margin, spec["high"] + margin)
        axes.set_title(name)
        axes.set_ylabel(objective)
        axes.grid(True, alpha=0.3)
    if title is not None:
        figure.suptitle(str(title))
    figure.tight_layout()
    return _save_figure(figure, path)
