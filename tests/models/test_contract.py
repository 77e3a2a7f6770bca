"""The contract every tfgen model family keeps, run for each family.

A new family gets the whole suite by adding one ``Family`` to ``FAMILIES``
(and its class to ``tfgen.models.MODEL_FAMILIES``; the first test fails
until both lists agree). A family's other recipes that change its train step
(the modern GAN: residual networks, relativistic loss, R1 + R2, augmentation)
run the suite too, as further entries of the same class (the modern GAN
with R2 and translation only, to keep the suite short: R1 runs in the ``gan``
family, the other augmentations in ``tests/test_augment.py``), and so does a VAE
whose decoder has two outputs per pixel (the discretised logistic likelihood). Each spec builds a small model, compiles it and
gives a few batches of data.
"""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import typing
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfgen
from tfgen.callbacks import StopOnNonFiniteLoss, TrainingBackup
from tfgen.models import MODEL_FAMILIES, GenerativeModel
from tests.helpers import REPO_ROOT, converted_differences, digits_images, run_python_without_tfgen, weights_equal


@dataclasses.dataclass
class Family:
    name: str
    model_class: type
    build: typing.Callable  # seed -> an uncompiled model
    compile: typing.Callable  # model -> None
    examples: typing.Callable  # () -> float32 [N, *shape] (N = 32)
    build_code: str  # the same build + compile as Python source, for subprocesses (``seed`` is defined)
    updated_from_examples: typing.Callable  # model -> the variables a batch of real examples updates
    served_variables: typing.Callable  # model -> the variables the export's signatures use


def _vae(seed):
    return tfgen.VAE(input_shape=(16, 16, 1), latent_dim=3, architecture="mlp", hidden_units=16, seed=seed)


def _gan(seed):
    return tfgen.GAN(input_shape=(2,), latent_dim=4, hidden_units=(8,), seed=seed)


def _vae_per_pixel(seed):
    return tfgen.VAE(input_shape=(16, 16, 1), latent_dim=3, architecture="mlp", hidden_units=16,
                     likelihood="discretized_logistic", seed=seed)


def _8_bit(images):
    """Images on the 8-bit grid k / 127.5 - 1 the discretised logistic models."""
    return (np.round((images + 1.0) * 127.5) / 127.5 - 1.0).astype("float32")


def _modern_gan(seed):
    # R3GAN-style residual networks with one block per resolution (the built-in
    # default is two): the same blocks, traced in ~35% less time.
    from tfgen.models.resnet_networks import make_resnet_discriminator, make_resnet_generator

    seed = tfgen.validation.check_seed("seed", seed)
    generator = make_resnet_generator((16, 16, 1), 4, base_filters=4, blocks_per_stage=1, seed=seed)
    discriminator = make_resnet_discriminator(
        (16, 16, 1), base_filters=4, blocks_per_stage=1, seed=None if seed is None else seed + 1
    )
    return tfgen.GAN(generator=generator, discriminator=discriminator, latent_dim=4, seed=seed)


MODERN_GAN_COMPILE = (
    "loss='relativistic', r2_penalty=0.5, penalty_interval=2, ema_decay=0.9, ema_rampup=True, "
    "augment='translation', augment_probability=0.5, ada_target=0.6, ada_images=64"
)

FAMILIES = [
    Family(
        "vae", tfgen.VAE, _vae,
        lambda model: model.compile(optimizer=keras.optimizers.Adam(1e-3)),
        lambda: digits_images(32),
        "model = tfgen.VAE(input_shape=(16, 16, 1), latent_dim=3, architecture='mlp', hidden_units=16, seed=seed)\n"
        "model.compile(optimizer=keras.optimizers.Adam(1e-3))",
        lambda model: model.trainable_variables,
        lambda model: model.encoder.weights + model.decoder.weights,
    ),
    Family(
        "gan", tfgen.GAN, _gan,
        lambda model: model.compile(ema_decay=0.9, r1_penalty=0.5),
        lambda: tfgen.data.mixtures.sample_mixture("ring8", 32, seed=0)[0].astype("float32"),
        "model = tfgen.GAN(input_shape=(2,), latent_dim=4, hidden_units=(8,), seed=seed)\n"
        "model.compile(ema_decay=0.9, r1_penalty=0.5)",
        lambda model: model.discriminator.trainable_variables,  # the generator never sees real examples
        lambda model: model.ema_generator.weights,  # served from the EMA generator alone
    ),
    Family(
        "vae_discretized_logistic", tfgen.VAE, _vae_per_pixel,
        lambda model: model.compile(optimizer=keras.optimizers.Adam(1e-3)),
        lambda: _8_bit(digits_images(32)),
        "model = tfgen.VAE(input_shape=(16, 16, 1), latent_dim=3, architecture='mlp', hidden_units=16, "
        "likelihood='discretized_logistic', seed=seed)\n"
        "model.compile(optimizer=keras.optimizers.Adam(1e-3))",
        lambda model: model.trainable_variables,
        lambda model: model.encoder.weights + model.decoder.weights,
    ),
    Family(
        "gan_modern", tfgen.GAN, _modern_gan,
        lambda model: eval(f"model.compile({MODERN_GAN_COMPILE})", {"model": model}),
        lambda: digits_images(32),
        "from tfgen.models.resnet_networks import make_resnet_discriminator, make_resnet_generator\n"
        "model = tfgen.GAN(generator=make_resnet_generator((16, 16, 1), 4, base_filters=4, blocks_per_stage=1, seed=seed),\n"
        "                  discriminator=make_resnet_discriminator((16, 16, 1), base_filters=4, blocks_per_stage=1,\n"
        "                                                          seed=seed + 1),\n"
        "                  latent_dim=4, seed=seed)\n"
        f"model.compile({MODERN_GAN_COMPILE})",
        # the relativistic generator loss reads the real batch too
        lambda model: model.discriminator.trainable_variables + model.generator.trainable_variables,
        lambda model: model.ema_generator.weights,
    ),
]
IDS = [family.name for family in FAMILIES]
BATCH_SIZE = 16


def _dataset(examples):
    return tf.data.Dataset.from_tensor_slices(examples).batch(BATCH_SIZE)


def _trained(family, seed=0, epochs=1):
    model = family.build(seed)
    family.compile(model)
    model.fit(_dataset(family.examples()), epochs=epochs, verbose=0)
    return model


_TRAINED_ONCE = {}


def _trained_once(family):
    """One trained model per family (seed 0, one epoch), shared by the tests that only read it: never change it."""
    if family.name not in _TRAINED_ONCE:
        _TRAINED_ONCE[family.name] = _trained(family)
    return _TRAINED_ONCE[family.name]


def _optimizer_values(model):
    optimizers = [getattr(model, name) for name in ("d_optimizer", "g_optimizer") if getattr(model, name, None)]
    optimizers = optimizers or [model.optimizer]
    return [np.array(v.numpy()) for optimizer in optimizers for v in optimizer.variables]


def test_every_model_family_is_in_the_contract_suite():
    named = {family.name: family.model_class for family in FAMILIES if family.name in MODEL_FAMILIES}
    assert named == MODEL_FAMILIES
    assert {family.model_class for family in FAMILIES} == set(MODEL_FAMILIES.values())
    for model_class in MODEL_FAMILIES.values():
        assert issubclass(model_class, GenerativeModel)
        assert keras.saving.get_registered_name(model_class) == f"tfgen>{model_class.__name__}"


# ------------------------------------------------------------------- seeding
@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_an_explicit_seed_makes_training_repeatable(family):
    a, b = _trained(family, seed=7), _trained(family, seed=7)
    assert weights_equal(a, b)
    assert not weights_equal(a, _trained(family, seed=8))


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_keras_set_random_seed_makes_a_run_without_seed_repeatable(family):
    def run():
        keras.utils.set_random_seed(3)
        return _trained(family, seed=None)

    a, b = run(), run()
    assert a.seed == b.seed and weights_equal(a, b)
    keras.utils.set_random_seed(4)
    assert family.build(None).seed != a.seed


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_without_set_random_seed_each_model_draws_its_own_seed(family):
    seeds = {family.build(None).seed for _ in range(3)}
    assert len(seeds) == 3


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
@pytest.mark.parametrize("seed", [-1, 1.5, True, "0"])
def test_a_bad_seed_is_refused(family, seed):
    with pytest.raises(ValueError, match=f"Expected seed to be None or a non-negative int, got {seed!r}"):
        family.build(seed)


# --------------------------------------------------------------- step counter
@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_the_step_counter_counts_train_steps_and_selects_the_noise(family):
    a, b = _trained(family), _trained(family)
    assert int(a.step_counter.numpy()) == 32 // BATCH_SIZE
    # The same model state at another step sees other noise, so the next update differs.
    b.step_counter.assign(100)
    data = _dataset(family.examples())
    a.fit(data, epochs=1, verbose=0)
    b.fit(data, epochs=1, verbose=0)
    assert int(a.step_counter.numpy()) == 2 * 32 // BATCH_SIZE  # it keeps counting across fit calls
    assert int(b.step_counter.numpy()) == 100 + 32 // BATCH_SIZE
    assert not weights_equal(a, b)


# ----------------------------------------------------------------- sampling
@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_generate_is_batched_seeded_and_validated(family):
    model = family.build(0)
    whole = model.generate(7, seed=2)
    assert whole.shape == (7,) + model.data_shape and whole.dtype == tf.float32
    np.testing.assert_array_equal(model.generate(7, seed=2, batch_size=3), whole)
    np.testing.assert_array_equal(model.generate(7), model.generate(7, seed=model.seed))
    assert not np.allclose(model.generate(7, seed=3), whole)
    np.testing.assert_array_equal(model.sample_latents(4, seed=2), model.sample_latents(7, seed=2)[:4])
    for bad in (0, -2, 1.5):
        with pytest.raises(ValueError, match=f"num_samples to be a positive int, got {bad!r}"):
            model.generate(bad)
    with pytest.raises(ValueError, match="batch_size to be a positive int, got 0"):
        model.generate(3, batch_size=0)
    with pytest.raises(ValueError, match="unconditional"):
        model.generate(2, labels=[0, 1])


# ------------------------------------------------------------ serialisation
@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_config_round_trip(family):
    model = family.build(5)
    config = model.get_config()
    clone = type(model).from_config(config)
    assert clone.get_config() == config and clone.seed == 5
    np.testing.assert_array_equal(clone.generate(3, seed=1), model.generate(3, seed=1))


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_keras_round_trip_keeps_optimizer_state_and_the_step(family, tmp_path):
    model = _trained_once(family)
    model.save(tmp_path / "model.keras")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        restored = keras.models.load_model(tmp_path / "model.keras")
    assert not [str(w.message) for w in caught if "Skipping" in str(w.message) or "compile" in str(w.message)]
    assert type(restored) is type(model)
    assert int(restored.step_counter.numpy()) == int(model.step_counter.numpy()) == 2
    assert restored.get_compile_config() == model.get_compile_config()
    for a, b in zip(_optimizer_values(model), _optimizer_values(restored), strict=True):
        np.testing.assert_array_equal(a, b)
    assert weights_equal(model, restored)
    np.testing.assert_array_equal(restored.generate(3, seed=1), model.generate(3, seed=1))


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_resume_from_a_backup_equals_an_uninterrupted_run(family, tmp_path):
    uninterrupted = _trained(family, epochs=2)

    interrupted = family.build(0)
    family.compile(interrupted)
    backup = TrainingBackup(tmp_path / "backup", delete_on_finish=False)
    interrupted.fit(_dataset(family.examples()), epochs=1, verbose=0, callbacks=[backup])
    del interrupted  # "killed": only the backup on disk survives

    resumed = family.build(0)
    family.compile(resumed)
    assert TrainingBackup.restore(resumed, tmp_path / "backup") == 2
    resumed.fit(_dataset(family.examples()), epochs=2, initial_epoch=1, verbose=0)
    assert int(resumed.step_counter.numpy()) == 4
    assert weights_equal(resumed, uninterrupted, atol=1e-6)


# ----------------------------------------------------------------- exporting
@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_export_runs_without_tfgen_and_matches(family, tmp_path):
    model = _trained_once(family)
    path = tfgen.export_saved_model(model, str(tmp_path / "export"))
    names = [endpoint.name for endpoint in model.serving_endpoints()]
    with open(os.path.join(path, "model_card.json")) as handle:
        card = json.load(handle)
    assert card["signatures"] == names + ["serving_default"]
    assert card["model_type"] == type(model).__name__ and card["train_steps"] == 2 and card["seed"] == 0
    latent = np.random.default_rng(0).normal(size=(3, model.latent_dim)).astype("float32")
    np.save(tmp_path / "latent.npy", latent)
    code = f"""
        import json, numpy as np, tensorflow as tf
        signatures = tf.saved_model.load({path!r}).signatures
        latent = tf.constant(np.load({str(tmp_path / 'latent.npy')!r}))
        (generated,) = signatures["generate"](latent=latent).values()
        (sampled,) = signatures["sample"](num_samples=tf.constant(4), seed=tf.constant(9)).values()
        print(json.dumps({{"names": sorted(signatures.keys()), "generate": generated.numpy().tolist(),
                          "sample": sampled.numpy().tolist()}}))
    """
    result = json.loads(run_python_without_tfgen(code).stdout.strip().splitlines()[-1])
    assert result["names"] == sorted(names + ["serving_default"])
    np.testing.assert_allclose(result["generate"], model.generate_from_latents(latent), atol=1e-5)
    np.testing.assert_allclose(result["sample"], model.generate(4, seed=9), atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_exports_store_each_weight_once(family, tmp_path):
    model = _trained_once(family)
    path = tfgen.export_saved_model(model, str(tmp_path / "export"))
    stored = tf.train.list_variables(os.path.join(path, "variables", "variables"))
    sizes = sorted(int(np.prod(shape)) for name, shape in stored if not name.startswith("_CHECKPOINTABLE_OBJECT_GRAPH"))
    assert sizes == sorted(int(np.prod(v.shape)) for v in family.served_variables(model))



@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_litert_and_onnx_exports_run_in_their_runtimes_and_match_the_saved_model(family, tmp_path):
    for module in ("tf2onnx", "onnxruntime", "ai_edge_litert"):
        pytest.importorskip(module, reason='pip install "tfgen[deploy]"')
    model = _trained_once(family)
    saved = tfgen.export_saved_model(model, str(tmp_path / "saved"))
    portable = [e.name for e in model.serving_endpoints() if e.name not in tfgen.export.convert.OMITTED_SIGNATURES]
    for format in ("tflite", "onnx"):
        folder = tfgen.export.export_model(model, format, str(tmp_path / format))
        differences = converted_differences(saved, format, folder, model.num_classes)
        assert sorted(differences) == sorted(portable)
        for name, outputs in differences.items():
            for key, (difference, _) in outputs.items():
                assert difference <= 1e-5, (format, name, key, difference)


# ------------------------------------------------------------- distribution
@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_two_replicas_train_exactly_like_one_device(family, tmp_path):
    examples = family.examples()
    examples[20] = np.nan  # the second batch's update is skipped on both replicas
    np.save(tmp_path / "examples.npy", examples)
    code = textwrap.dedent(
        """
        import numpy as np, tensorflow as tf, keras
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import tfgen
        """
    )
    code += "def build(seed):\n" + textwrap.indent(family.build_code, "    ") + "\n    return model\n"
    code += textwrap.dedent(
        f"""
        examples = np.load({str(tmp_path / 'examples.npy')!r})
        data = np.concatenate([examples, examples[:16]])  # a clean third batch after the skipped one

        def train(strategy):
            with strategy.scope():
                model = build(0)
            keep_going = tfgen.callbacks.StopOnNonFiniteLoss(monitor=())  # train past the NaN batch
            model.fit(tf.data.Dataset.from_tensor_slices(data).batch(16), epochs=1, verbose=0, callbacks=[keep_going])
            return model

        single = train(tf.distribute.get_strategy())
        mirrored = train(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
        assert int(mirrored.step_counter.numpy()) == 3
        for a, b in zip(single.get_weights(), mirrored.get_weights(), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert all(np.all(np.isfinite(w)) for w in mirrored.get_weights())
        print("OK")
        """
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO_ROOT)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr[-3000:]


# ------------------------------------------------------------ non-finite steps
@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_a_non_finite_step_is_skipped_and_training_stops_with_a_message(family, tmp_path, capsys):
    good = family.examples()[:16]
    bad = good.copy()
    bad[3] = np.nan
    reference = family.build(0)
    family.compile(reference)
    reference.fit(_dataset(good), epochs=1, verbose=0)

    model = family.build(0)
    family.compile(model)
    checkpoint = str(tmp_path / "last.weights.h5")
    loss_name = model.monitored_losses[0]
    with pytest.warns(RuntimeWarning, match=f"{loss_name} became nan at epoch 0 batch 1 \\(train step 2\\)"):
        history = model.fit(
            _dataset(np.concatenate([good, bad])), epochs=3, verbose=0,
            callbacks=[keras.callbacks.ModelCheckpoint(checkpoint, save_weights_only=True)],
        )
    assert f"{loss_name} became nan" in capsys.readouterr().out
    assert len(history.history[loss_name]) == 1  # stopped in the first epoch
    after_nan = [v.numpy() for v in family.updated_from_examples(model)]
    for a, b in zip(after_nan, [v.numpy() for v in family.updated_from_examples(reference)], strict=True):
        np.testing.assert_array_equal(a, b)  # the NaN batch's update was skipped
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
    restored = family.build(0)
    family.compile(restored)
    restored.load_weights(checkpoint)
    assert weights_equal(model, restored)


def test_the_stop_callback_is_added_once_and_ignores_finite_logs():
    family = FAMILIES[0]
    model = family.build(0)
    family.compile(model)
    own = StopOnNonFiniteLoss()
    model.fit(_dataset(family.examples()), epochs=1, verbose=0, callbacks=[own])
    assert own.model is model and own.message is None and not model.stop_training
