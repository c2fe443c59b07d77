"""The training configuration: one validated pydantic model shared by the CLI, jobs/train.py and Ray.

Every field has a unit-suffixed name where it has a unit and a validated range, so a bad value fails
when the file is read (``oceanscan.config.load_config`` names the field) rather than hours into a run.
The model round-trips through ``model_dump()`` because Ray Train hands the per-worker function a
plain dict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["TrainConfig", "recorded_path", "resolve_storage_path"]


class TrainConfig(BaseModel):
    """Hyperparameters and run settings of one training run.

    Defaults follow the attention U-Net recipe of the design: AdamW, 10 warmup epochs then cosine
    decay, gradient clipping at norm 1.0, early stopping after 15 epochs without a better
    validation F1.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Data and outputs
    data_root: str = Field(description="MARIDA-layout directory (patches/ and splits/).")
    out_dir: str = Field(description="Directory the best model is exported to as a model bundle.")
    class_mapping: Literal["binary", "marida11", "floating"] = "binary"
    patch_size_px: int | None = Field(
        default=None,
        ge=8,
        description="Random training crop in pixels; None trains on whole patches.",
    )
    augment: bool = Field(
        default=True, description="Random flips and 90-degree rotations on train."
    )
    input_method: Literal["standardize", "local_contrast"] = Field(
        default="local_contrast",
        description="Model input: MARIDA standardization, or contrast with the local water "
        "plus the standardized local background (oceanscan.data.inputs).",
    )
    atmosphere_augment: bool = Field(
        default=True,
        description="Random gain, haze, sun glint and noise on train (oceanscan.data.radiometry).",
    )
    debris_spectrum_augment: bool = Field(
        default=True,
        description="Random visible colour and strength of debris against its water on train "
        "(oceanscan.data.spectral).",
    )
    debris_colour_tilt: bool = Field(
        default=False,
        description="With debris_spectrum_augment, draw the debris' visible contrast factor "
        "at 443 and 665 nm independently and interpolate between them (colours rising or "
        "falling across the visible, as real plastic's do); false draws one factor.",
    )
    debris_min_contrast: float | None = Field(
        default=None,
        gt=0.0,
        description="With debris_spectrum_augment, unlabel (ignore in the loss) debris pixels "
        "whose 842 nm contrast with their water is below this reflectance after the "
        "rescaling: debris no annotator could see; None keeps every debris label.",
    )
    real_materials: str | None = Field(
        default=None,
        description="Duarte & Azevedo 2023 pixel table (duarte2023_train_pixels.csv): paste its "
        "training-split plastic and look-alike spectra into train patches (binary task only).",
    )
    real_materials_pastes: int = Field(
        default=6,
        ge=1,
        description="Up to this many real-material pastes per train patch (uniformly 0..N).",
    )
    real_materials_plastic_share: float = Field(
        default=0.4,
        ge=0.0,
        le=1.0,
        description="Share of the pastes that are plastic; the rest are look-alikes (hard "
        "negatives), each material equally likely.",
    )
    real_materials_weight: float = Field(
        default=1.0,
        gt=0.0,
        allow_inf_nan=False,
        description="Loss weight of each pasted real-material pixel in the focal and "
        "cross-entropy terms (other pixels weigh 1): the few real spectra of a batch count "
        "for more than their number among its water pixels.",
    )
    real_materials_lookalike_weight: float | None = Field(
        default=None,
        gt=0.0,
        allow_inf_nan=False,
        description="Loss weight of each pasted look-alike pixel; None gives them "
        "real_materials_weight, as plastic.",
    )
    real_materials_min_strength: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description="Paste real materials as sub-pixel mixtures with the patch's water, each "
        "covering a share of its pixels drawn from this to 1 (real debris filaments are faint "
        "mixed pixels); None pastes whole pixels.",
    )
    real_materials_native_resolution: bool = Field(
        default=False,
        description="See what the real-material pastes add through each band's native "
        "resolution (20 m and 60 m bands diluted, as for a real thin filament); false pastes "
        "the spectrum into every band at 10 m.",
    )
    validate_augmented: bool = Field(
        default=False,
        description="Validate (choose the best epoch and the threshold) on val patches carrying "
        "the train split's debris-colour, real-material and atmosphere variation, drawn once "
        "per patch (oceanscan.train.datasets.FixedDraws); false validates on val as it is.",
    )
    threshold_debris_fraction: float | None = Field(
        default=1e-3,
        gt=0.0,
        lt=0.5,
        description="Tune the decision threshold as if this fraction of validation pixels were "
        "debris (false positives reweighted); None tunes at the validation set's own fraction.",
    )

    # Model
    base_width: int = Field(default=64, ge=1, le=512)
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0)
    attention_heads: int = Field(default=4, ge=1)

    init_from: str | None = Field(
        default=None,
        description="A model bundle whose weights the run starts from instead of a seeded "
        "initialisation (fine-tuning); its architecture, input method and class mapping must "
        "be this run's. None starts from scratch.",
    )

    # Optimisation
    epochs: int = Field(default=100, ge=1)
    batch_size: int = Field(default=16, ge=1, description="Samples per worker per step.")
    lr: float = Field(default=1e-3, gt=0.0, le=1.0)
    min_lr: float = Field(
        default=1e-6, ge=0.0, description="Learning rate at the end of the cosine."
    )
    weight_decay: float = Field(default=1e-4, ge=0.0, le=1.0)
    warmup_epochs: int = Field(default=10, ge=0)
    grad_clip_norm: float = Field(default=1.0, gt=0.0)
    patience_epochs: int = Field(default=15, ge=1, description="Epochs without a better val F1.")
    weight_average_decay: float | None = Field(
        default=None,
        gt=0.0,
        lt=1.0,
        description="Validate, keep and export an exponential moving average of the weights "
        "with this decay (ramped up over the first updates; oceanscan.train.averaging); None "
        "uses each epoch's own weights.",
    )
    class_weighted_loss: bool = Field(
        default=True, description="Weight the loss by inverse class frequency of the train split."
    )
    seed: int = Field(default=0, ge=0)

    # Distribution and fault tolerance
    num_workers: int = Field(
        default=1, ge=0, description="Ray Train workers; 0 trains in this process without Ray."
    )
    use_gpu: bool = False
    cpus_per_worker: float = Field(default=1.0, gt=0.0)
    dataloader_workers: int = Field(default=0, ge=0, description="DataLoader processes per worker.")
    storage_path: str = Field(
        default="runs",
        description="Local directory or fsspec/pyarrow URL (s3://...) for checkpoints.",
    )
    run_name: str = Field(default="oceanscan-train", min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    max_failures: int = Field(
        default=0, ge=-1, description="Worker-group restarts; -1 is unlimited."
    )
    checkpoints_to_keep: int = Field(default=2, ge=1)

    @model_validator(mode="after")
    def _check_schedule(self) -> TrainConfig:
        if self.warmup_epochs >= self.epochs:
            raise ValueError(
                f"warmup_epochs ({self.warmup_epochs}) must be smaller than epochs ({self.epochs}) "
                "so that the cosine decay has at least one epoch"
            )
        if self.patch_size_px is not None:
            # imported here, not at the top: the model stack takes a second to import, and the
            # configuration is read by commands that never build a model
            from oceanscan.model import DOWNSAMPLING

            if self.patch_size_px % DOWNSAMPLING:
                raise ValueError(
                    f"patch_size_px ({self.patch_size_px}) must be a multiple of {DOWNSAMPLING}, "
                    "the U-Net's downsampling factor"
                )
        if self.init_from is not None and _place(self.init_from) == _place(self.out_dir):
            raise ValueError(
                f"init_from ({self.init_from}) is out_dir: the run would overwrite the bundle it "
                "starts from; write the fine-tuned bundle to another out_dir"
            )
        if self.real_materials is not None and self.class_mapping != "binary":
            raise ValueError(
                f"real_materials pastes plastic as debris and look-alikes as negatives, which "
                f"needs class_mapping 'binary', got {self.class_mapping!r}"
            )
        if self.real_materials is None and (
            self.real_materials_weight != 1.0
            or self.real_materials_lookalike_weight is not None
            or self.real_materials_min_strength is not None
            or self.real_materials_native_resolution
        ):
            raise ValueError(
                "real_materials_weight, real_materials_lookalike_weight, "
                "real_materials_min_strength and real_materials_native_resolution shape the "
                "pasted real-material pixels, but "
                "real_materials is not set: nothing is pasted"
            )
        if self.min_lr > self.lr:
            raise ValueError(f"min_lr ({self.min_lr}) must not exceed lr ({self.lr})")
        return self


def resolve_storage_path(storage_path: str) -> str:
    """Make a local storage path absolute, leave URLs (``s3://``, ``gs://``...) untouched.

    Ray Train needs an absolute local path: its workers run in other working directories.
    """
    if urlparse(storage_path).scheme not in ("", "file"):
        return storage_path
    return str(Path(storage_path.removeprefix("file://")).expanduser().resolve())


def recorded_path(location: str) -> str:
    """A location as a bundle records it: relative to the working directory when inside it.

    ``oceanscan train`` makes local paths absolute for Ray's workers; a bundle committed to a
    repository should name its data the way the command was given, not the machine it ran on.
    URLs and paths outside the working directory are recorded as they are.
    """
    if urlparse(location).scheme not in ("", "file"):
        return location
    try:
        return str(Path(resolve_storage_path(location)).relative_to(Path.cwd().resolve()))
    except ValueError:
        return location


def _place(location: str) -> str:
    """A bundle location compared as one: a URL as written, a local path resolved."""
    return resolve_storage_path(location).rstrip("/")
