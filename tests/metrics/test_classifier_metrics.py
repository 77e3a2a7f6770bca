"""Image-level metrics: clear errors for bad inputs, and named metrics computed together."""

import numpy as np
import pytest

import tfgen.data
from tfgen.metrics import METRICS, evaluate_images, frechet_classifier_distance, get_feature_extractor
from tfgen.metrics.evaluation import check_metric_names


@pytest.fixture(scope="module")
def real():
    return tfgen.data.load_arrays("fashion_mnist", "test")[0][:300]


def test_mismatched_shapes_raise(real):
    with pytest.raises(ValueError, match=r"same shape, got \(300, 28, 28, 1\) and \(4, 16, 16, 1\)"):
        frechet_classifier_distance(real, np.zeros((4, 16, 16, 1), np.float32), "fashion_classifier")


def test_images_outside_the_range_raise(real):
    with pytest.raises(ValueError, match=r"fake_images in \[-1, 1\], got values in \[0, 255\]"):
        frechet_classifier_distance(real, real.astype(np.float32), "fashion_classifier")
    with pytest.raises(ValueError, match="float in \\[-1, 1\\] or uint8"):
        frechet_classifier_distance(real, real.astype(np.int32), "fashion_classifier")
    with pytest.raises(ValueError, match="finite"):
        frechet_classifier_distance(real, np.full((4, 28, 28, 1), np.nan, np.float32), "fashion_classifier")


def test_too_few_samples_for_a_covariance_raise(real):
    with pytest.raises(ValueError, match="at least 2 samples in activations_b"):
        frechet_classifier_distance(real, real[:1], "fashion_classifier")


def test_unknown_names_raise():
    with pytest.raises(ValueError, match=r"Unknown feature extractor 'vgg'\. Valid feature extractors"):
        get_feature_extractor("vgg")
    with pytest.raises(ValueError, match=r"Unknown metric 'is'\. Valid metrics: \['fashion_fd', 'fid'"):
        check_metric_names("fid,is")


def test_evaluate_images_with_real_images_or_cached_reference(real, tmp_path):
    fake = np.clip(real[:200].astype(np.float32) / 127.5 - 1 + 0.3, -1, 1)  # brighter copies
    direct = evaluate_images(fake, ["fashion_fd"], real_images=real)
    cached = evaluate_images(fake, "fashion_fd", dataset="fashion_mnist", num_real_images=300, cache_dir=str(tmp_path))
    assert direct["fashion_fd"] == pytest.approx(cached["fashion_fd"], rel=1e-5)
    assert direct["fashion_fd"] > evaluate_images(real[200:], ["fashion_fd"], real_images=real[:200])["fashion_fd"]
    with pytest.raises(ValueError, match="exactly one of real_images and dataset"):
        evaluate_images(fake, ["fashion_fd"])
    with pytest.raises(ValueError, match=r"Unknown options \['subsets'\]"):
        evaluate_images(fake, ["fashion_fd"], real_images=real, subsets=3)
    assert set(METRICS) == {"fid", "kid", "precision_recall", "fashion_fd"}


def test_evaluate_images_shows_progress_only_when_asked(real, tmp_path, capsys):
    fake = real[:40]
    quiet = evaluate_images(fake, "fashion_fd", dataset="fashion_mnist", num_real_images=60, cache_dir=str(tmp_path))
    assert capsys.readouterr().out == ""
    shown = evaluate_images(fake, "fashion_fd", dataset="fashion_mnist", num_real_images=60,
                            cache_dir=str(tmp_path / "fresh"), batch_size=16, verbose=1)
    out = capsys.readouterr().out
    real_title = out.index("fashion_classifier features of the first 60 fashion_mnist/test images")
    fake_title = out.index("fashion_classifier features of 40 generated images")
    assert real_title < out.index("60/60") < fake_title < out.index("40/40")
    assert shown == quiet
    # The cached reference features are read without a progress bar.
    evaluate_images(fake, "fashion_fd", dataset="fashion_mnist", num_real_images=60,
                    cache_dir=str(tmp_path / "fresh"), verbose=1)
    assert "60/60" not in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"Expected verbose to be 0 \(silent\), 1 \(progress bar\) or 2 .*got 'yes'"):
        evaluate_images(fake, "fashion_fd", real_images=real, verbose="yes")
