"""MetricCallback: metrics every N epochs in the History and in TensorBoard."""

import glob

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfgen
from tfgen.metrics import MetricCallback


def test_logs_every_n_epochs_to_history_and_tensorboard(tmp_path, monkeypatch):
    monkeypatch.setenv("TFGEN_CACHE_DIR", str(tmp_path / "cache"))
    images = tfgen.data.load_arrays("fashion_mnist", "test")[0][:64].astype(np.float32) / 127.5 - 1
    vae = tfgen.VAE(input_shape=(28, 28, 1), latent_dim=2, base_filters=4, hidden_units=16, seed=0)
    vae.compile(optimizer="adam")
    callback = MetricCallback(["fashion_fd"], dataset="fashion_mnist", num_samples=50, every_n_epochs=2,
                              log_dir=str(tmp_path / "metrics"))
    board = keras.callbacks.TensorBoard(str(tmp_path / "board"))
    history = vae.fit(images, batch_size=32, epochs=4, verbose=0, callbacks=[callback, board])

    assert sorted(callback.results) == [1, 3]  # after epochs 2 and 4
    assert history.history["fashion_fd"] == [callback.results[1]["fashion_fd"], callback.results[3]["fashion_fd"]]
    assert all(value > 0 for value in history.history["fashion_fd"])
    logged = []
    for path in glob.glob(str(tmp_path / "metrics" / "events.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            logged += [(event.step, value.tag) for value in event.summary.value]
    assert logged == [(1, "epoch_fashion_fd"), (3, "epoch_fashion_fd")]
    assert glob.glob(str(tmp_path / "board" / "train" / "events.*"))  # Keras' TensorBoard ran after it


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="exactly one of real_images and dataset"):
        MetricCallback(["fid"])
    with pytest.raises(ValueError, match="every_n_epochs to be a positive int"):
        MetricCallback(["fid"], dataset="fashion_mnist", every_n_epochs=0)
    with pytest.raises(ValueError, match="Unknown metric"):
        MetricCallback(["inception_score"], dataset="fashion_mnist")
