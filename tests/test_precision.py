"""Mixed precision: tfgen.precision, and the GAN and VAE under mixed_bfloat16 / mixed_float16."""

import inspect
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfgen
from tfgen import losses, precision
from tfgen.cli import train_lib
from tfgen.export import export_saved_model
from tfgen.data.mixtures import sample_mixture
from tfgen.callbacks import StopOnNonFiniteLoss
from tfgen.models.gan import GAN
from tests.helpers import digits_images

MIXED = ["bfloat16", "float16"]


def _values(variables):
    return [np.array(v.numpy()) for v in variables]


def _some_differ(before, after):
    return any(not np.array_equal(a, b) for a, b in zip(before, after))


def _assert_float32_variables(model):
    for variable in model.weights:
        assert variable.dtype in ("float32", "int64"), (variable.path, variable.dtype)


def _assert_float32_signatures(loaded, names):
    for name in names:
        signature = loaded.signatures[name]
        for spec in signature.structured_input_signature[1].values():
            assert spec.dtype in (tf.float32, tf.int32), (name, spec)
        for key, spec in signature.structured_outputs.items():
            expected = tf.string if key == "images_bytes" else tf.float32  # PNG files
            assert spec.dtype == expected, (name, key, spec.dtype)


# ------------------------------------------------------------ tfgen.precision
def test_resolve_precision_names():
    assert precision.resolve_precision("float32") == "float32"
    assert precision.resolve_precision("bfloat16") == "mixed_bfloat16"
    assert precision.resolve_precision("float16") == "mixed_float16"
    assert precision.resolve_precision("mixed_float16") == "mixed_float16"
    assert precision.resolve_precision("auto") == precision.resolve_precision(precision.default_precision())
    assert precision.precision_name("mixed_bfloat16") == "bfloat16"


@pytest.mark.parametrize("name", ["float64", "fp16", "", None, 16])
def test_resolve_precision_rejects_unknown_names(name):
    with pytest.raises(ValueError) as error:
        precision.resolve_precision(name)
    message = str(error.value)
    assert repr(name) in message
    assert "['bfloat16', 'float16', 'float32', 'auto']" in message


def test_default_precision():
    assert precision.default_precision([(8, 0)], cpu_bfloat16=False) == "bfloat16"
    assert precision.default_precision([(9, 0), (8, 6)]) == "bfloat16"
    assert precision.default_precision([(8, 0), (7, 5)], cpu_bfloat16=True) == "float32"
    assert precision.default_precision([], cpu_bfloat16=True) == "bfloat16"
    assert precision.default_precision([], cpu_bfloat16=False) == "float32"  # never float16 on a CPU


def test_cpu_bfloat16_flags(tmp_path):
    with_bf16 = tmp_path / "with"
    with_bf16.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 amx_tile\n")
    without = tmp_path / "without"
    without.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_vnni\n")
    amx = tmp_path / "amx"
    amx.write_text("flags\t\t: fpu amx_bf16 amx_tile\n")
    assert precision.cpu_has_native_bfloat16(str(with_bf16))
    assert precision.cpu_has_native_bfloat16(str(amx))
    assert not precision.cpu_has_native_bfloat16(str(without))
    assert not precision.cpu_has_native_bfloat16(str(tmp_path / "missing"))


def test_policy_scope_restores_the_previous_policy_even_on_errors():
    assert keras.config.dtype_policy().name == "float32"
    with precision.policy_scope("float16") as policy:
        assert policy == keras.config.dtype_policy().name == "mixed_float16"
    assert keras.config.dtype_policy().name == "float32"
    with pytest.raises(RuntimeError):
        with precision.policy_scope("bfloat16"):
            raise RuntimeError("boom")
    assert keras.config.dtype_policy().name == "float32"
    with pytest.raises(ValueError, match="Unknown precision 'half'"):
        with precision.policy_scope("half"):
            pass


def test_loss_scaling_only_for_float16():
    for name, expected in (("float32", False), ("bfloat16", False), ("float16", True)):
        with precision.policy_scope(name):
            network = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
        optimizer = precision.with_loss_scaling(keras.optimizers.Adam(), network)
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer) == expected
        assert precision.with_loss_scaling(optimizer, network) is optimizer


# ------------------------------------------------------------------------ GAN
@pytest.mark.parametrize("name", MIXED)
def test_gan_trains_exports_and_reloads_under_mixed_precision(name, tmp_path):
    images = digits_images(32)
    with precision.policy_scope(name):
        # Spectral normalisation under bfloat16, R1 under float16 (keeps the test short).
        gan = GAN(input_shape=(16, 16, 1), latent_dim=8, base_filters=4, spectral_norm=name == "bfloat16", seed=0)
        gan.compile(
            loss="wasserstein", gradient_penalty=10.0, r1_penalty=1.0 if name == "float16" else 0.0, ema_decay=0.5
        )
    assert keras.config.dtype_policy().name == "float32"
    assert gan.generator.get_layer("project").compute_dtype == name
    assert gan.generator.get_layer("outputs").compute_dtype == "float32"
    _assert_float32_variables(gan)
    loss_scaled = name == "float16"
    for optimizer in (gan.d_optimizer, gan.g_optimizer):
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer) == loss_scaled
    assert gan.optimizer is gan.g_optimizer

    # The penalties are float32 and finite for the mixed-precision critic.
    real = tf.constant(images[:4])
    fake = gan.generate(4, seed=1)
    critic = lambda x: gan._discriminate(x, None, training=False)  # noqa: E731
    for penalty in (
        losses.gradient_penalty(critic, real, fake, tf.fill([4], 0.5)),
        losses.r1_penalty(critic, real),
    ):
        assert penalty.dtype == tf.float32 and np.all(np.isfinite(penalty)) and np.all(penalty.numpy() > 0)

    generator_before = _values(gan.generator.trainable_variables)
    discriminator_before = _values(gan.discriminator.trainable_variables)
    ema_before = _values(gan.ema_generator.weights)
    history = gan.fit(tf.data.Dataset.from_tensor_slices(images).batch(16), epochs=1, verbose=0).history
    for key in ("d_loss", "g_loss", "gradient_penalty", "r1_penalty"):
        assert key not in history or np.isfinite(history[key][0]), (key, history)
    assert "gradient_penalty" in history
    assert _some_differ(generator_before, _values(gan.generator.trainable_variables))
    assert _some_differ(discriminator_before, _values(gan.discriminator.trainable_variables))
    assert _some_differ(ema_before, _values(gan.ema_generator.weights))
    assert all(v.dtype == "float32" for v in gan.ema_generator.weights)
    _assert_float32_variables(gan)
    samples = gan.generate(3, seed=2)
    assert samples.dtype == tf.float32 and np.all(np.isfinite(samples))

    if name == "bfloat16":  # export: float32 in and out whatever the policy
        loaded = tf.saved_model.load(export_saved_model(gan, tmp_path / "export"))
        _assert_float32_signatures(loaded, ["generate", "sample", "generate_png"])
        exported = loaded.signatures["generate"](latent=tf.zeros([2, 8]))["images"]
        assert exported.dtype == tf.float32 and exported.shape == (2, 16, 16, 1)
        return

    # float16: .keras round trip in a float32 process; same policies, loss-scale optimizers and samples.
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    reloaded = keras.models.load_model(path)
    assert reloaded.generator.get_layer("project").compute_dtype == name
    assert isinstance(reloaded.d_optimizer, keras.optimizers.LossScaleOptimizer) == loss_scaled
    reloaded_samples = reloaded.generate(3, seed=2)
    assert reloaded_samples.dtype == tf.float32
    np.testing.assert_allclose(reloaded_samples, samples, atol=1e-6)
    for a, b in zip(gan.d_optimizer.variables, reloaded.d_optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_float16_overflow_lowers_the_loss_scale_without_stopping_training():
    # A loss scale of 2^40 overflows float16 gradients: every step is skipped
    # and halves the scale; the (unscaled) losses stay finite, so training goes on.
    with precision.policy_scope("float16"):
        gan = GAN(input_shape=(2,), latent_dim=4, hidden_units=(8,), seed=0)
        gan.compile(
            d_optimizer=keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(), initial_scale=2.0**40),
            g_optimizer=keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(), initial_scale=2.0**40),
        )
    weights = _values(gan.generator.trainable_variables + gan.discriminator.trainable_variables)
    stopper = StopOnNonFiniteLoss()
    points = sample_mixture("ring8", 48, seed=0)[0]
    history = gan.fit(
        tf.data.Dataset.from_tensor_slices(points).batch(16), epochs=2, callbacks=[stopper], verbose=0
    ).history
    assert stopper.message is None and len(history["d_loss"]) == 2
    assert all(np.isfinite(history[key]).all() for key in ("d_loss", "g_loss"))
    assert float(gan.d_optimizer.dynamic_scale.numpy()) == 2.0 ** (40 - 6)
    assert float(gan.g_optimizer.dynamic_scale.numpy()) == 2.0 ** (40 - 6)
    assert not _some_differ(weights, _values(gan.generator.trainable_variables + gan.discriminator.trainable_variables))


# ------------------------------------------------------------------------ VAE
@pytest.mark.parametrize("name", MIXED)
def test_vae_trains_exports_and_reloads_under_mixed_precision(name, tmp_path):
    images = digits_images(64)
    with precision.policy_scope(name):
        vae = tfgen.VAE(input_shape=(16, 16, 1), latent_dim=4, base_filters=8, hidden_units=32, seed=0)
        vae.compile(optimizer=keras.optimizers.Adam(3e-3))
    assert keras.config.dtype_policy().name == "float32"
    assert vae.encoder.get_layer("conv_0").compute_dtype == name
    assert vae.decoder.get_layer("output").compute_dtype == "float32"
    _assert_float32_variables(vae)
    assert isinstance(vae.optimizer, keras.optimizers.LossScaleOptimizer) == (name == "float16")

    before = _values(vae.trainable_variables)
    # float16: Keras' initial loss scale 2^15 overflows the first few steps (the
    # loss sums over pixels); each overflow halves the scale and skips the step.
    history = vae.fit(tf.data.Dataset.from_tensor_slices(images).batch(32), epochs=8, verbose=0).history
    assert np.all(np.isfinite(history["loss"])) and history["loss"][-1] < history["loss"][0]
    assert _some_differ(before, _values(vae.trainable_variables))
    _assert_float32_variables(vae)
    z_mean, z_log_var = vae.encode(images[:2])
    assert z_mean.dtype == z_log_var.dtype == tf.float32
    samples = vae.generate(3, seed=1)
    assert samples.dtype == tf.float32

    loaded = tf.saved_model.load(export_saved_model(vae, tmp_path / "export"))
    _assert_float32_signatures(loaded, ["generate", "decode", "encode", "reconstruct", "generate_png"])
    reconstructed = loaded.signatures["reconstruct"](images=tf.constant(images[:2]))["images"]
    assert reconstructed.dtype == tf.float32 and reconstructed.shape == (2, 16, 16, 1)

    path = str(tmp_path / "vae.keras")
    vae.save(path)
    reloaded = keras.models.load_model(path)
    assert reloaded.encoder.get_layer("conv_0").compute_dtype == name
    assert isinstance(reloaded.optimizer, keras.optimizers.LossScaleOptimizer) == (name == "float16")
    np.testing.assert_allclose(reloaded.generate(3, seed=1), samples, atol=1e-6)


# ---------------------------------------------------------------------- train
def test_train_uses_the_precision_and_restores_the_global_policy(tmp_path):
    config = {
        "model": "vae", "dataset": "digits", "epochs": 1, "steps_per_epoch": 2, "batch_size": 16,
        "architecture": "mlp", "latent_dim": 2, "hidden_units": 16, "num_samples": 4, "seed": 1,
        "precision": "bfloat16", "export": False, "verbose": 0, "output": str(tmp_path / "run"),
    }
    result, model = train_lib.train(config, return_model=True)
    assert keras.config.dtype_policy().name == "float32"
    assert model.decoder.get_layer("hidden_0").compute_dtype == "bfloat16"
    with open(result["config"]) as handle:
        assert json.load(handle)["precision"] == "bfloat16"
    auto = train_lib.resolve_config({"model": "gan", "dataset": "digits", "precision": "auto"})
    assert auto["precision"] == precision.default_precision()
    with pytest.raises(ValueError, match="Unknown precision 'double'"):
        train_lib.train(dict(config, precision="double"))
    assert keras.config.dtype_policy().name == "float32"


# ------------------------------------------------------------ the default
@pytest.fixture
def auto_picks(monkeypatch):
    """Unsets $TFGEN_PRECISION and makes ``auto`` pick the given precision on any machine."""

    def pick(name):
        monkeypatch.delenv(precision.ENV_VAR, raising=False)
        monkeypatch.setattr(precision, "default_precision", lambda *args, **kwargs: name)

    return pick


def _network_policies(model):
    networks = [getattr(model, name) for name in ("generator", "discriminator", "encoder", "decoder")
                if hasattr(model, name)]
    return {layer.dtype_policy.name for network in networks for layer in network.layers}


def test_default_setting_reads_the_environment(monkeypatch):
    monkeypatch.delenv(precision.ENV_VAR, raising=False)
    assert precision.default_setting() == precision.DEFAULT == "auto"
    monkeypatch.setenv(precision.ENV_VAR, "bfloat16")
    assert precision.default_setting() == "bfloat16"
    monkeypatch.setenv(precision.ENV_VAR, "half")
    with pytest.raises(ValueError, match=r"TFGEN_PRECISION='half' is not a precision. Valid precisions: \['bf"):
        precision.default_setting()


@pytest.mark.parametrize("picked, policy", [("bfloat16", "mixed_bfloat16"), ("float32", "float32")])
@pytest.mark.parametrize("family", ["gan", "vae"])
def test_models_built_without_a_choice_use_auto(auto_picks, picked, policy, family):
    auto_picks(picked)
    model = tfgen.GAN(input_shape=(16, 16, 1), base_filters=4, seed=0) if family == "gan" else tfgen.VAE(
        input_shape=(16, 16, 1), latent_dim=2, base_filters=4, hidden_units=8, seed=0)
    assert policy in _network_policies(model)
    assert model.dtype_policy.name == policy
    assert keras.config.dtype_policy().name == "float32"  # nothing leaks
    if picked == "bfloat16":
        samples = model.generate(3, seed=0)
        assert samples.dtype == np.float32 and np.all(np.isfinite(samples))


def test_an_explicit_choice_wins_over_auto(auto_picks):
    auto_picks("bfloat16")
    with precision.policy_scope("float32"):
        assert _network_policies(tfgen.GAN(input_shape=(16, 16, 1), base_filters=4, seed=0)) == {"float32"}
    keras.config.set_dtype_policy("mixed_float16")
    try:
        gan = tfgen.GAN(input_shape=(16, 16, 1), base_filters=4, seed=0)
    finally:
        keras.config.set_dtype_policy("float32")
    assert "mixed_float16" in _network_policies(gan)
    # Networks passed in keep the policy they were built with.
    vectors = tfgen.GAN(input_shape=(2,), generator=keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]),
                        latent_dim=4, seed=0)
    assert vectors.generator.layers[-1].dtype_policy.name == "float32"
    assert "mixed_bfloat16" in _network_policies(vectors)  # the built-in discriminator


def test_the_wrapped_constructor_keeps_its_signature():
    # Keras and tfgen's config read the family's own arguments off __init__.
    assert list(inspect.signature(tfgen.GAN.__init__).parameters)[1:4] == ["input_shape", "latent_dim", "num_classes"]
    assert inspect.getfullargspec(tfgen.VAE.__init__).args[:3] == ["self", "input_shape", "latent_dim"]


def test_train_resolves_the_default_and_a_resumed_run_keeps_its_precision(auto_picks, monkeypatch, tmp_path):
    auto_picks("bfloat16")
    assert train_lib.resolve_config({"model": "gan", "dataset": "digits"})["precision"] == "bfloat16"
    monkeypatch.setenv(precision.ENV_VAR, "float16")
    assert train_lib.resolve_config({"model": "gan", "dataset": "digits"})["precision"] == "float16"
    assert train_lib.resolve_config({"model": "gan", "dataset": "digits", "precision": "float32"})[
        "precision"] == "float32"
    # An interrupted run picked bfloat16 on its machine; resuming it elsewhere keeps it (and its seed).
    output = tmp_path / "run"
    (output / train_lib.BACKUP_DIRNAME).mkdir(parents=True)
    (output / train_lib.BACKUP_DIRNAME / "backup").write_text("x")
    (output / train_lib.CONFIG_FILENAME).write_text(json.dumps({"precision": "bfloat16", "seed": 7}))
    config = train_lib.resolve_config({"model": "gan", "dataset": "digits", "output": str(output)})
    assert config["precision"] == "float16"
    kept = train_lib._keep_interrupted_settings(config)
    assert (kept["precision"], kept["seed"]) == ("bfloat16", 7)
