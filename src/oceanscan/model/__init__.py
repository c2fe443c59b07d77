"""The network, its loss and the model bundle that carries it from training to scanning."""

from oceanscan.model.bundle import ModelBundle
from oceanscan.model.bundle_format import BUNDLE_FORMAT_VERSION
from oceanscan.model.export import save_bundle
from oceanscan.model.loading import load_bundle
from oceanscan.model.losses import (
    CombinedLoss,
    class_weights_from_counts,
    dice_loss,
    focal_loss,
    weighted_cross_entropy,
)
from oceanscan.model.shipped import default_bundle_dir
from oceanscan.model.tta import TTA_VIEWS, average_views
from oceanscan.model.unet import DOWNSAMPLING, AttentionUNet, count_parameters, flops_per_patch

__all__ = [
    "BUNDLE_FORMAT_VERSION",
    "DOWNSAMPLING",
    "TTA_VIEWS",
    "AttentionUNet",
    "CombinedLoss",
    "ModelBundle",
    "average_views",
    "class_weights_from_counts",
    "count_parameters",
    "default_bundle_dir",
    "dice_loss",
    "flops_per_patch",
    "focal_loss",
    "load_bundle",
    "save_bundle",
    "weighted_cross_entropy",
]
