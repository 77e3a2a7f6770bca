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
from tests.helpers import run_cli

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


@needs_node
@pytest.mark.parametrize("quantize", [None, "int8"])
def test_the_page_generator_gives_the_model_images_in_webassembly(conditional_gan, tmp_path, quantize):
    folder = tfgen.export.export_web(conditional_gan, str(tmp_path / "web"), quantize=quantize)
    assert sorted(os.listdir(folder)) == ["generate.onnx", "index.html", "model_card.json", "tfgen_generator.mjs"]
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


@needs_node
def test_the_page_generator_refuses_labels_out_of_range(conditional_gan, tmp_path):
    folder = tfgen.export.export_web(conditional_gan, str(tmp_path / "web"))
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


def test_the_card_lists_what_the_page_holds_and_how_to_serve_it(conditional_gan, tmp_path):
    folder = tfgen.export.export_web(conditional_gan, str(tmp_path / "web"))
    with open(os.path.join(folder, "model_card.json")) as handle:
        card = json.load(handle)
    assert card["format"] == "web" and list(card["signatures"]) == ["generate"]
    assert sorted(card["files"]) == ["generate.onnx", "index.html", "tfgen_generator.mjs"]
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


def test_export_command_writes_the_page(conditional_gan, tmp_path):
    conditional_gan.save(tmp_path / "model.keras")
    result = run_cli(["export", "--model", "model.keras", "--format", "web"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "saved_models" / conditional_gan.name / "web" / "index.html").is_file()
