"""One source for every default: the config dataclasses drive the models, `tfgen train`'s flags and config.json."""

import dataclasses
import inspect

import pytest

import tfgen
from tfgen import config, losses
from tfgen.cli import main as cli_main
from tfgen.cli import train_lib
from tfgen.models import config as model_config


def _train_parser(kind):
    parser = cli_main.build_parser()
    train = next(a for a in parser._subparsers._group_actions if a.dest == "command").choices["train"]
    return next(a for a in train._subparsers._group_actions if a.dest == "model").choices[kind]


@pytest.mark.parametrize(
    "model_class, method, config_class",
    [
        (tfgen.VAE, "__init__", model_config.VAEConfig),
        (tfgen.GAN, "__init__", model_config.GANConfig),
        (tfgen.GAN, "compile", model_config.GANCompileConfig),
    ],
)
def test_constructor_and_compile_defaults_are_the_dataclass_defaults(model_class, method, config_class):
    parameters = inspect.signature(getattr(model_class, method)).parameters
    for field in dataclasses.fields(config_class):
        if field.name in parameters:
            assert parameters[field.name].default == field.default, field.name


@pytest.mark.parametrize("kind", sorted(train_lib.MODELS))
def test_every_setting_has_a_flag_whose_help_shows_the_default(kind):
    actions = {action.dest: action for action in _train_parser(kind)._actions}
    for config_class in (train_lib.TrainingConfig, *train_lib.MODELS[kind]["configs"]):
        for field in dataclasses.fields(config_class):
            if not field.metadata["flag"]:
                continue
            action = actions[field.name]
            assert action.default is None  # "not given": resolve_config fills in the default
            if field.default is not None and not isinstance(field.default, tuple):
                assert f"(default: {field.default})" in action.help, field.name


def test_choices_come_from_the_registries(monkeypatch):
    actions = {action.dest: action for action in _train_parser("gan")._actions}
    assert actions["loss"].choices == sorted(losses.GAN_LOSSES)
    assert actions["update"].choices == sorted(model_config.UPDATE_SCHEMES)
    monkeypatch.setitem(losses.GAN_LOSSES, "my_loss", losses.GAN_LOSSES["hinge"])
    actions = {action.dest: action for action in _train_parser("gan")._actions}
    assert "my_loss" in actions["loss"].choices


@pytest.mark.parametrize("kind", sorted(train_lib.MODELS))
def test_resolved_config_holds_every_default(kind):
    resolved = train_lib.resolve_config({"model": kind, "dataset": "digits", "seed": 0})
    expected = config.defaults(train_lib.TrainingConfig)
    for config_class in train_lib.MODELS[kind]["configs"]:
        expected.update(config.defaults(config_class))
    for key, value in expected.items():
        if value is not None and key not in ("dataset", "precision"):
            assert resolved[key] == value, key


def test_parsed_flags_reach_the_config(tmp_path):
    args = cli_main.build_parser().parse_args(
        ["train", "gan", "--loss", "hinge", "--r1-penalty", "2", "--no-export", "--backup-freq", "7", "--ema-decay", "0.99"]
    )
    assert (args.loss, args.r1_penalty, args.export, args.backup_freq, args.ema_decay) == ("hinge", 2.0, False, 7, 0.99)
    with pytest.raises(SystemExit):
        cli_main.build_parser().parse_args(["train", "gan", "--backup-freq", "0"])


def test_training_counts_its_split_without_decoding_it_first(tmp_path, monkeypatch):
    calls = []
    original = tfgen.data.load_arrays

    def recording(name, split="train", **kwargs):
        calls.append(split)
        return original(name, split=split, **kwargs)

    monkeypatch.setattr(tfgen.data, "load_arrays", recording)
    train_lib.train({"model": "vae", "dataset": "digits", "epochs": 1, "steps_per_epoch": 2, "batch_size": 16,
                     "architecture": "mlp", "hidden_units": 8, "latent_dim": 2, "export": False, "verbose": 0,
                     "output": str(tmp_path / "run"), "seed": 0})
    assert "train" not in calls  # only the validation split's first images are read as arrays
