"""What ``import tfgen`` gives a user: the names the README and the docstrings use."""

import importlib

import pytest

import tfgen


def test_models_at_the_top_level():
    from tfgen.models.gan import GAN
    from tfgen.models.vae import VAE

    assert tfgen.GAN is GAN and tfgen.VAE is VAE
    assert tfgen.models.GAN is GAN


@pytest.mark.parametrize("name", ["callbacks", "metrics", "plotting", "precision", "serving", "augment", "data", "distribute", "losses"])
def test_submodules_reachable_after_import_tfgen(name):
    assert getattr(tfgen, name) is importlib.import_module(f"tfgen.{name}")
    assert name in tfgen.__all__


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'not_a_module'"):
        tfgen.not_a_module  # noqa: B018
