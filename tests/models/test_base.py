"""A model family written from scratch on GenerativeModel gets sampling, finite updates, export and the step counter."""

import json
import os

import keras
import numpy as np
import tensorflow as tf

import tfgen
from tfgen.models import GenerativeModel
from tests.helpers import run_python_without_tfgen


@keras.saving.register_keras_serializable(package="tfgen_tests")
class LinearFlow(GenerativeModel):
    """A toy family: x = W z + b, trained to match the data mean (a squared-error 'loss')."""

    def __init__(self, latent_dim=2, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.latent_dim, self.data_shape = latent_dim, (2,)
        self.network = keras.Sequential(
            [keras.Input((latent_dim,)), keras.layers.Dense(2, kernel_initializer=keras.initializers.GlorotUniform(self.seed))]
        )
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def generate_from_latents(self, latents, labels=None):
        return self.network(latents, training=False)

    def compile(self, optimizer=None, **kwargs):
        optimizer = self.prepare_optimizer(optimizer, lambda: keras.optimizers.SGD(0.1), self.trainable_variables, [self.network])
        super().compile(optimizer=optimizer, **kwargs)

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        examples, _ = self.unpack_batch(data)
        noise = tfgen.random.replica_normal(tf.shape(examples)[0], (self.latent_dim,), self.seed, self.step_counter.value, "latent")
        with tf.GradientTape() as tape:
            per_example = tf.reduce_sum(tf.square(self.network(noise, training=True) - examples), axis=-1)
            loss = tfgen.distribute.global_mean(per_example)
        variables = self.trainable_variables
        self.apply_if_finite(self.optimizer, loss, tape.gradient(loss, variables), variables)
        self.step_counter.assign_add(1)
        self.loss_tracker.update_state(per_example)
        return {"loss": self.loss_tracker.result()}

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim}


def test_a_new_family_inherits_the_contract(tmp_path):
    data = np.random.default_rng(0).normal(3.0, 0.1, (32, 2)).astype("float32")
    model = LinearFlow(seed=1)
    model.compile()
    before = model.network.get_weights()
    model.fit(data, batch_size=16, epochs=1, verbose=0)
    assert int(model.step_counter.numpy()) == 2
    assert not np.allclose(before[1], model.network.get_weights()[1])
    np.testing.assert_array_equal(model.generate(5, seed=2, batch_size=2), model.generate(5, seed=2))

    bad = data.copy()
    bad[0] = np.inf
    weights = model.network.get_weights()
    history = model.fit(bad, batch_size=16, epochs=2, verbose=0, shuffle=False)
    assert len(history.history["loss"]) == 1 and model.stop_training
    for a, b in zip(weights, model.network.get_weights()):
        np.testing.assert_array_equal(a, b)  # the inf batch was skipped and training stopped after it

    path = tfgen.export_saved_model(model, str(tmp_path / "flow"))
    with open(os.path.join(path, "model_card.json")) as handle:
        assert json.load(handle)["model_type"] == "LinearFlow"
    code = f"""
        import json, tensorflow as tf
        s = tf.saved_model.load({path!r}).signatures
        print(json.dumps({{"names": sorted(s), "sample": s["sample"](num_samples=tf.constant(3), seed=tf.constant(4))["samples"].numpy().tolist()}}))
    """
    result = json.loads(run_python_without_tfgen(code).stdout.strip().splitlines()[-1])
    assert result["names"] == ["generate", "sample", "serving_default"]
    np.testing.assert_allclose(result["sample"], model.generate(3, seed=4), atol=1e-6)


def test_fit_turns_off_tf_data_autotuning_only_where_the_user_left_it_alone(monkeypatch):
    seen = {}

    def recording(self, x=None, y=None, **kwargs):  # what keras.Model.fit receives from GenerativeModel.fit
        seen["x"], seen["validation_data"] = x, kwargs.get("validation_data")

    monkeypatch.setattr(keras.Model, "fit", recording)
    data = np.random.default_rng(0).normal(size=(32, 2)).astype("float32")
    model = LinearFlow(seed=1)
    model.compile()
    users = tf.data.Dataset.from_tensor_slices(data).batch(16)
    chosen = tf.data.Options()
    chosen.autotune.enabled = True
    model.fit(users, validation_data=users.with_options(chosen), epochs=1, verbose=0)
    assert seen["x"].options().autotune.enabled is False
    assert seen["validation_data"].options().autotune.enabled is True  # the user's choice stands
    np.testing.assert_array_equal(np.concatenate(list(seen["x"].as_numpy_iterator())), data)
