"""The web export: its generator runs in onnxruntime-web's WebAssembly backend (under Node.js) like the model.

``scripts/install.sh test`` installs onnxruntime-web into ``tests/export/web/node_modules``
(``npm install --prefix tests/export/web``); without Node.js and it these tests skip.
"""

import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import tfgen
from tfgen.export import convert
from benchmarks.common import chromium_available, page_in_chromium, run_in_page

pytest.importorskip("tf2onnx", reason='pip install "tfgen[deploy]"')
pytest.importorskip("onnxruntime", reason='pip install "tfgen[deploy]"')

WEB_TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "web")
NODE = shutil.which("node")
HAS_ORT_WEB = os.path.isdir(os.path.join(WEB_TESTS, "node_modules", "onnxruntime-web"))
needs_node = pytest.mark.skipif(
    NODE is None or not HAS_ORT_WEB, reason="needs node and `npm install --prefix tests/export/web` (scripts/install.sh test)"
)


def _run_generator(folder, count, seed, labels=()):
    result = subprocess.run(
        [NODE, os.path.join(WEB_TESTS, "run_generator.mjs"), folder, str(count), str(seed), *map(str, labels)],
        capture_output=True, text=True, timeout=120, cwd=WEB_TESTS,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def conditional_gan():
    model = tfgen.GAN(input_shape=(16, 16, 3), latent_dim=8, num_classes=3, seed=0)
    model.compile()
    return model


@pytest.fixture(scope="module")
def page(conditional_gan, tmp_path_factory):
    """The conditional GAN's float web export, shared by the tests that only read it."""
    return tfgen.export.export_web(conditional_gan, str(tmp_path_factory.mktemp("page") / "web"))


@needs_node
@pytest.mark.parametrize("quantize", [None, "int8"])
def test_the_page_generator_gives_the_model_images_in_webassembly(conditional_gan, page, tmp_path, quantize):
    folder = page if quantize is None else tfgen.export.export_web(conditional_gan, str(tmp_path / "web"), quantize="int8")
    assert sorted(os.listdir(folder)) == ["generate.onnx", "index.html", "model_card.json", "ort", "tfgen_generator.mjs"]
    assert sorted(os.listdir(os.path.join(folder, "ort"))) == sorted(convert.ONNXRUNTIME_WEB_FILES)
    labels = [0, 2, 1, 1, 0]
    result = _run_generator(folder, 5, 42, labels)
    latent = np.asarray(result["latent"], "float32").reshape(5, 8)
    # The page's own N(0, I) draws: finite, seeded, not all alike.
    assert np.isfinite(latent).all() and 0.5 < latent.std() < 1.5
    assert _run_generator(folder, 5, 42, labels)["latent"] == result["latent"]
    assert _run_generator(folder, 5, 43, labels)["latent"] != result["latent"]
    expected = conditional_gan.generate_from_latents(latent, np.asarray(labels, "int32")).numpy()
    images = np.asarray(result["images"], "float32").reshape(expected.shape)
    tolerance = 1e-5 if quantize is None else 1e-2
    np.testing.assert_allclose(images, expected, atol=tolerance, rtol=0)
    # RGBA pixels as the PNG exports write them (one grey level of slack at .5 boundaries).
    pixels = np.asarray(result["pixels"]).reshape(5, 16, 16, 4)
    assert np.abs(pixels[..., :3] - np.round((np.clip(images, -1, 1) + 1) * 127.5)).max() <= 1
    assert (pixels[..., 3] == 255).all()
    # The walk between two latent vectors starts and ends on them and keeps their length (slerp).
    walk = np.asarray(result["walk"], "float32").reshape(4, 8)
    np.testing.assert_allclose(walk[[0, -1]], latent[:2], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(walk[1]), np.interp(1 / 3, [0, 1], np.linalg.norm(latent[:2], axis=1)), rtol=0.05)


@needs_node
def test_the_page_generator_refuses_labels_out_of_range(page):
    folder = page
    assert _run_generator(folder, 2, 0, [0, 3]) == {"error": "Expected labels in [0, 3), got 3."}
    assert _run_generator(folder, 2, 0, [0]) == {"error": "Expected 2 labels in [0, 3), got 1."}


@needs_node
def test_grey_images_become_grey_rgba(tmp_path):
    vae = tfgen.VAE(input_shape=(16, 16, 1), latent_dim=4, base_filters=8, hidden_units=32, seed=0)
    folder = tfgen.export.export_web(vae, str(tmp_path / "web"))
    result = _run_generator(folder, 3, 1)
    pixels = np.asarray(result["pixels"]).reshape(3, 16, 16, 4)
    assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
    expected = vae.decode(np.asarray(result["latent"], "float32").reshape(3, 4)).numpy()
    np.testing.assert_allclose(np.asarray(result["images"]).reshape(expected.shape), expected, atol=1e-5)


@pytest.mark.skipif(not chromium_available(), reason="needs Debian's chromium and chromium-driver and selenium (scripts/install.sh test)")
def test_the_page_in_headless_chromium_draws_the_model_images(conditional_gan, page):
    import tensorflow as tf
    from selenium.webdriver.common.by import By

    folder = page
    latent = np.random.default_rng(5).normal(size=(4, 8)).astype("float32")
    labels = [0, 1, 2, 0]
    expected = conditional_gan.generate_from_latents(latent, np.asarray(labels, "int32")).numpy()
    with page_in_chromium(folder) as driver:
        # The page has drawn its first grid (16 random samples, seed 0) on its own.
        assert driver.find_element(By.ID, "status").text.startswith("16 images, seed 0, generated in")
        shown = run_in_page(driver, "window.tfgenPage.show(args[0], args[1])", latent.ravel().tolist(), labels)
        assert shown["count"] == 4, shown
        scale = shown["scale"]
        canvas = np.asarray(run_in_page(
            driver, "(() => { const c = document.getElementById('grid'); "
                    "return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); })()"
        ), "uint8").reshape(2 * 16 * scale, 2 * 16 * scale, 4)
        screenshot = tf.io.decode_png(driver.find_element(By.ID, "grid").screenshot_as_png, channels=3).numpy()
        refused = run_in_page(driver, "window.tfgenPage.show([1, 2], null)")
        assert refused == {"error": "Error: Expected latent of count x 8 values, got 2."}
    # 2 x 2 grid, each pixel a scale x scale block: its centre is the model's pixel within 1/255.
    centres = canvas[scale // 2 :: scale, scale // 2 :: scale, :3].reshape(2, 16, 2, 16, 3).transpose(0, 2, 1, 3, 4)
    want = np.round((np.clip(expected, -1, 1) + 1) * 127.5).reshape(2, 2, 16, 16, 3)
    assert np.abs(centres.astype(int) - want).max() <= 1
    # The screenshot shows that grid: the same picture as the canvas holds (inside its 1-pixel border).
    screenshot = screenshot[1:-1, 1:-1]
    assert screenshot.shape == canvas[..., :3].shape
    assert np.abs(screenshot.astype(int) - canvas[..., :3].astype(int)).max() <= 2
    tiles = screenshot.reshape(2, 16 * scale, 2, 16 * scale, 3).transpose(0, 2, 1, 3, 4).reshape(4, -1)
    assert len({tile.tobytes() for tile in tiles}) == 4  # four different images, not a blank canvas


def test_the_card_lists_what_the_page_holds_and_how_to_serve_it(page):
    folder = page
    with open(os.path.join(folder, "model_card.json")) as handle:
        card = json.load(handle)
    assert card["format"] == "web" and list(card["signatures"]) == ["generate"]
    assert sorted(card["files"]) == sorted(["generate.onnx", "index.html", "tfgen_generator.mjs"]
                                           + [f"ort/{name}" for name in convert.ONNXRUNTIME_WEB_FILES])
    assert card["onnxruntime_web_version"] == convert.ONNXRUNTIME_WEB_VERSION
    assert card["serve"].startswith(f"python -m http.server --directory {folder}")
    assert "generate_png" in card["omitted_signatures"]


def test_the_page_loads_the_pinned_onnxruntime_web():
    with open(os.path.join(convert.WEB_SOURCE_DIR, "tfgen_generator.mjs")) as handle:
        source = handle.read()
    assert re.search(r'ONNXRUNTIME_WEB_VERSION = "([^"]+)"', source).group(1) == convert.ONNXRUNTIME_WEB_VERSION
    with open(os.path.join(WEB_TESTS, "package.json")) as handle:
        assert json.load(handle)["dependencies"]["onnxruntime-web"] == convert.ONNXRUNTIME_WEB_VERSION
    with open(os.path.join(convert.WEB_SOURCE_DIR, "index.html")) as handle:
        page = handle.read()
    for name in ("loadOrt", "createGenerator", "normalLatents", "toPixels", "drawGrid", "model_card.json"):
        assert name in page


@needs_node
def test_the_page_script_parses_as_a_module(tmp_path):
    with open(os.path.join(convert.WEB_SOURCE_DIR, "index.html")) as handle:
        (script,) = re.findall(r'<script type="module">(.*?)</script>', handle.read(), re.S)
    (tmp_path / "page.mjs").write_text(script)
    for path in (str(tmp_path / "page.mjs"), os.path.join(convert.WEB_SOURCE_DIR, "tfgen_generator.mjs")):
        result = subprocess.run([NODE, "--check", path], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr


def test_models_without_images_are_refused(tmp_path):
    gan = tfgen.GAN(input_shape=(2,), latent_dim=4, hidden_units=(8,), seed=0)
    with pytest.raises(ValueError, match=r"draws images with 1, 3 or 4 channels; this model generates samples of shape \[2\]"):
        tfgen.export.export_web(gan, str(tmp_path / "web"))
    assert not (tmp_path / "web").exists()


def test_export_command_writes_the_page(conditional_gan, tmp_path, monkeypatch):
    from tfgen.cli.main import main

    conditional_gan.save(tmp_path / "model.keras")
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--model", "model.keras", "--format", "web"]) == 0
    assert (tmp_path / "saved_models" / conditional_gan.name / "web" / "index.html").is_file()
