"""``tfgen train vae`` with the per-pixel likelihoods and ``--conditional``."""

import json
import math

import keras
import numpy as np
import pytest

import tfgen
from tfgen.cli import main as cli_main
from tfgen.cli import train_lib


def test_both_model_kinds_have_the_conditional_flag():
    args = cli_main.build_parser().parse_args(["train", "vae", "--conditional", "--likelihood", "discretized_logistic"])
    assert (args.conditional, args.likelihood) == (True, "discretized_logistic")
    assert cli_main.build_parser().parse_args(["train", "gan", "--conditional"]).conditional is True
    for kind in ("vae", "gan"):
        assert train_lib.model_defaults(kind)["conditional"] is False


@pytest.mark.parametrize(
    "likelihood, binarize",
    [("bernoulli", True), ("gaussian", False), ("gaussian_per_pixel", False), ("discretized_logistic", False)],
)
def test_only_the_bernoulli_likelihood_binarises_by_default(likelihood, binarize):
    config = {"model": "vae", "dataset": "digits", "seed": 0, "likelihood": likelihood}
    assert train_lib.resolve_config(config)["binarize"] is binarize
    assert train_lib.resolve_config({**config, "binarize": not binarize})["binarize"] is (not binarize)


def test_conditional_needs_a_dataset_with_classes(monkeypatch):
    monkeypatch.setattr(tfgen.data, "info", lambda name: {"num_classes": None})
    with pytest.raises(ValueError, match="--conditional needs a dataset with classes; 'digits' has none"):
        train_lib._num_classes({"conditional": True, "dataset": "digits"})
    assert train_lib._num_classes({"conditional": False, "dataset": "digits"}) is None


def test_train_a_conditional_discretized_logistic_vae(tmp_path, monkeypatch):
    loads = []
    original_load = tfgen.data.load

    def recording_load(*args, **kwargs):
        loads.append(kwargs)
        return original_load(*args, **kwargs)

    monkeypatch.setattr(tfgen.data, "load", recording_load)
    result, model = train_lib.train(
        {"model": "vae", "dataset": "digits", "conditional": True, "likelihood": "discretized_logistic",
         "architecture": "mlp", "hidden_units": 16, "latent_dim": 2, "epochs": 1, "steps_per_epoch": 2,
         "batch_size": 16, "num_samples": 10, "seed": 0, "verbose": 0, "output": str(tmp_path / "run"),
         "export_dir": str(tmp_path / "saved_models" / "cvae")},
        return_model=True,
    )
    assert loads and all(kwargs["with_labels"] and not kwargs["binarize"] for kwargs in loads)
    with open(result["config"]) as handle:
        config = json.load(handle)
    assert (config["conditional"], config["binarize"], config["likelihood"]) == (True, False, "discretized_logistic")
    assert model.num_classes == 10 and int(model.step_counter.numpy()) == 2
    restored = keras.models.load_model(result["model"])
    np.testing.assert_array_equal(restored.generate(10, seed=0), model.generate(10, seed=0))
    for picture in ("samples", "reconstructions", "interpolation"):
        assert result[picture].endswith(".png")
    with open(f"{result['export']}/model_card.json") as handle:
        card = json.load(handle)
    assert card["num_classes"] == 10 and card["likelihood"] == "discretized_logistic"
    assert {"sample_labels", "decode", "encode", "reconstruct"} <= set(card["signatures"])
    with open(result["history"]) as handle:
        history = json.load(handle)
    assert all(math.isfinite(value) for value in history["loss"] + history["val_loss"])


class _Killed(Exception):
    pass


class _KillAtEpoch(keras.callbacks.Callback):
    """Stands for a kill at the start of an epoch: the backup of the epoch before is all that survives."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise _Killed


@pytest.mark.parametrize("steps_per_epoch", [40, 57])  # 57 batches of 32 are one pass over the 1,797 digits
def test_a_resumed_run_validates_like_an_uninterrupted_one(tmp_path, steps_per_epoch):
    # Dynamically binarised data, and epochs shorter than a pass (validated on a quarter as many batches):
    # every epoch validates on the same binarised images, so the history does not depend on the interruption.
    config = {"model": "vae", "dataset": "digits", "architecture": "mlp", "hidden_units": 16, "latent_dim": 4,
              "batch_size": 32, "steps_per_epoch": steps_per_epoch, "epochs": 3, "num_samples": 4, "seed": 1,
              "export": False, "verbose": 0}
    whole = train_lib.train({**config, "output": str(tmp_path / "whole")})
    with pytest.raises(_Killed):
        train_lib.train({**config, "output": str(tmp_path / "killed")}, callbacks=[_KillAtEpoch(1)])
    resumed = train_lib.train({**config, "output": str(tmp_path / "killed")})
    histories = []
    for result in (whole, resumed):
        with open(result["history"]) as handle:
            histories.append(json.load(handle))
    assert histories[1]["val_loss"] == histories[0]["val_loss"][1:]
    assert histories[1]["loss"] == histories[0]["loss"][1:]
    models = [keras.models.load_model(result["model"]) for result in (whole, resumed)]
    for a, b in zip(models[0].get_weights(), models[1].get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
