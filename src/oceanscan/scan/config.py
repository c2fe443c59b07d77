"""Scan configuration: where scenes come from, which model scores them, where results go.

Loaded from YAML with :func:`oceanscan.config.load_config`, which names the bad field on error.
Regions (named ocean areas with a time window) may sit inline or in their own YAML file
(``regions_file``, relative to the scan config), so operations can schedule them by name.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from oceanscan.config import load_config, validate_config
from oceanscan.errors import ConfigError
from oceanscan.scan.ledger import DEFAULT_MAX_ATTEMPTS, DEFAULT_OVERLAP_DAYS, tta_view_set
from oceanscan.scan.store import DEFAULT_ZARR_FORMAT, ZarrFormat

__all__ = ["Region", "ScanConfig", "load_regions", "load_scan_config"]


class Region(BaseModel):
    """A named ocean area and time window to scan.

    Attributes:
        name: identifier used by ``--region`` and recorded in the store's ``runs``.
        bbox: ``[west, south, east, north]`` in degrees (EPSG:4326); or give ``geometry``.
        geometry: a GeoJSON geometry in EPSG:4326; or give ``bbox``.
        start: start of the time window (UTC).
        end: end of the time window (UTC); defaults to now.
        max_cloud_cover: scenes with more cloud cover (percent) are not scanned.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    bbox: tuple[float, float, float, float] | None = None
    geometry: dict[str, Any] | None = None
    start: datetime
    end: datetime | None = None
    max_cloud_cover: float = Field(default=30.0, ge=0.0, le=100.0)

    @field_validator("bbox")
    @classmethod
    def _check_bbox(
        cls, bbox: tuple[float, float, float, float] | None
    ) -> tuple[float, float, float, float] | None:
        if bbox is None:
            return None
        west, south, east, north = bbox
        if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south < north <= 90):
            raise ValueError(
                "bbox must be [west, south, east, north] in degrees with -180 <= west, east <= 180 "
                f"and -90 <= south < north <= 90, got {list(bbox)}"
            )
        return bbox

    @field_validator("geometry")
    @classmethod
    def _check_geometry(cls, geometry: dict[str, Any] | None) -> dict[str, Any] | None:
        if geometry is None:
            return None
        allowed = ("Polygon", "MultiPolygon")
        if geometry.get("type") not in allowed or "coordinates" not in geometry:
            raise ValueError(
                f"geometry must be a GeoJSON geometry of type {allowed} with coordinates, "
                f"got type {geometry.get('type')!r}"
            )
        return geometry

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @model_validator(mode="after")
    def _one_area(self) -> Region:
        if (self.bbox is None) == (self.geometry is None):
            raise ValueError("give exactly one of bbox or geometry")
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end ({self.end.isoformat()}) must be after start ({self.start})")
        return self


def _shipped_bundle() -> str:
    """Path of the bundle shipped with oceanscan; imported late to keep torch out of workers."""
    from oceanscan.model.shipped import DEFAULT_BUNDLE_PATH

    return str(DEFAULT_BUNDLE_PATH)


class ScanConfig(BaseModel):
    """Everything a scan needs; frozen, so one run sees one configuration throughout.

    Derive a changed copy with ``config.model_copy(update={...})`` (as
    :func:`load_scan_config` does with command-line overrides); assigning a field raises.

    Attributes:
        model: directory (or URL) of the model bundle; defaults to the bundle shipped with
            oceanscan (:func:`oceanscan.model.default_bundle_dir`).
        root: output root, a path or fsspec URL (``s3://bucket/prefix``).
        storage_options: fsspec options for ``root`` (S3 endpoint, credentials).
        stac_url: STAC API to search; or give ``catalog``.
        catalog: directory of a static STAC catalog (the synthetic ones), read without a server.
        input: scene files instead of a search: multi-band GeoTIFFs, folders of band files,
            Sentinel-2 L2A ``.SAFE`` directories, STAC Item JSON files or URLs
            (:mod:`oceanscan.inputs`); one path or a list.
        bands: band names of a multi-band ``input`` raster in file order (``SCL`` allowed);
            defaults to the file's band descriptions.
        reflectance_offset: reflectance offset of an ``input`` raster's or band folder's DN;
            defaults to the files' GDAL offset metadata, else 0 (harmonised L2A).
        profile: STAC provider profile for every item (a name of
            :data:`oceanscan.stac.PROFILES`); defaults to detecting it per item.
        sign: href modifier for the items' assets: ``planetary-computer`` (needs the
            ``planetary-computer`` package) or ``module:function``; defaults to none.
        land: where land comes from (:mod:`oceanscan.land`): ``coastline`` (OpenStreetMap land
            polygons, grown by ``land_buffer_m``), ``scl`` (Sen2Cor's vegetation, not-vegetated
            and snow classes), or ``auto`` (the default: ``scl`` for synthetic scenes, whose land
            is synthetic, ``coastline`` for every other).
        land_buffer_m: seaward buffer of coastline land, in metres; defaults to 100.
        collections: STAC collections searched.
        regions: regions scanned, inline.
        regions_file: YAML file with a ``regions`` list, relative to the config file.
        limit: at most this many scenes per region; defaults to no limit.
        tile_size_px: tile core and Zarr chunk side; a multiple of the network's down-sampling
            factor (:data:`oceanscan.model.DOWNSAMPLING`, 16).
        margin_px: context margin around each core, in pixels.
        workers: predictor actors (one GPU each where there are GPUs); defaults to one per GPU
            of the cluster, or on a cluster without GPUs one per CPU, each running the network
            on one thread (:func:`oceanscan.scan.execute.predictor_actors`).
        predictor_cpus: CPUs Ray reserves per predictor actor. Below 1 by default so that read
            and write tasks can always be scheduled beside the actors: two scans sharing a
            2-CPU node with one whole CPU per actor would leave no CPU for reads and hang. It
            must differ from the read tasks' 0.5: Ray Data fuses a task map into the following
            actor map when their resource requests match, and reads would then run inside the
            actor, serially with prediction.
        predictor_threads: torch threads of each predictor actor on CPU; defaults to the CPUs of
            the actor's node divided by ``workers`` (set it on clusters whose nodes hold unequal
            shares of the actors).
        batch_size: tiles per predictor batch.
        read_concurrency: parallel tile-read tasks (``tile_io`` ``tasks``); defaults to Ray
            Data's choice.
        tile_io: who reads and writes the tiles: ``actors`` (each predictor actor reads the tiles
            of its batch, concurrently, scores them and writes them itself), ``tasks`` (Ray tasks
            of their own, which hand tiles to the actors through the object store) or ``auto``
            (the default): ``tasks`` when the actors take GPUs, ``actors`` otherwise
            (:mod:`oceanscan.scan.execute` says why).
        device: ``auto`` uses CUDA when the actor has a GPU.
        autocast_bf16: bf16 autocast on CUDA.
        cpu_bf16: bf16 on CPUs with bf16 instructions (AVX512-BF16, AMX), as on CUDA
            (``autocast_bf16``) and as OpenVINO itself defaults to on such CPUs; ignored on
            other CPUs. On by default: 1.4x the scan's speed on this project's 2-core
            benchmark, while probabilities move by up to 0.13 from float32 and 0.5 % of the
            debris decisions of a synthetic full tile change (docs/scan.md, "CPU runtime and
            precision"); false runs float32.
        cpu_runtime: what runs the network on CPUs: ``openvino`` (OpenVINO's compiled network,
            :mod:`oceanscan.model.openvino_runtime`), ``torch`` (eager PyTorch) or ``auto`` (the
            default): OpenVINO where it is installed. In float32 (``cpu_bf16`` false, or a CPU
            without bf16) their probabilities differ by float32 rounding alone (docs/scan.md).
        tta: test-time augmentation, the views of each tile averaged
            (:data:`oceanscan.model.tta.TTA_VIEWS`): ``bundle`` (the default) runs the bundle the
            way its threshold was tuned (its ``inference.tta``); ``none``, ``rot180`` (2x the
            compute) or ``dihedral`` (8x) override it. ``true``/``false`` of older configs read as
            ``dihedral``/``none``.
        fail_on_error: a failing read fails its scene (True) rather than leaving nodata.
        progress_bars: Ray Data's tile progress bars.
        zarr_format: Zarr format of a new store. 2 (the default) because GDAL before 3.11 cannot
            read the Zarr v3 arrays zarr-python writes (it knows the ``bytes`` codec only from
            3.11, OSGeo/gdal#11787), while xarray, rioxarray and every GDAL read v2; 3 for
            readers with GDAL >= 3.11. An existing store keeps its format, and a different
            value here is an error.
        since_last_overlap_days: a ``--since-last`` window starts this many days before the end
            of the region's last finished run, so that items a catalog published after that run
            (but acquired before its end) are found; complete scenes of the overlap are skipped.
            Defaults to 7.
        max_attempts: runs that may fail a scene before it is recorded ``given_up`` and no
            longer retried; raise it to retry given-up scenes. Defaults to 3.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(default_factory=lambda: _shipped_bundle())
    root: str
    storage_options: dict[str, Any] = Field(default_factory=dict)
    stac_url: str | None = None
    catalog: str | None = None
    input: list[str] = Field(default_factory=list)
    bands: list[str] | None = None
    reflectance_offset: float | None = Field(default=None, ge=-1.0, le=1.0)
    profile: str | None = None
    sign: str | None = None
    land: Literal["auto", "coastline", "scl"] = "auto"
    land_buffer_m: float = Field(default=100.0, ge=0.0, le=10_000.0)
    collections: list[str] = Field(default_factory=lambda: ["sentinel-2-l2a"])
    regions: list[Region] = Field(default_factory=list)
    regions_file: str | None = None
    limit: int | None = Field(default=None, ge=1)
    tile_size_px: int = Field(default=512, ge=16)
    margin_px: int = Field(default=32, ge=0)
    workers: int | None = Field(default=None, ge=1)
    predictor_cpus: float = Field(default=0.75, gt=0.0, le=64.0)
    predictor_threads: int | None = Field(default=None, ge=1)
    batch_size: int = Field(default=4, ge=1)
    read_concurrency: int | None = Field(default=None, ge=1)
    tile_io: Literal["auto", "actors", "tasks"] = "auto"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    autocast_bf16: bool = True
    cpu_bf16: bool = True
    cpu_runtime: Literal["auto", "torch", "openvino"] = "auto"
    tta: Literal["bundle", "none", "rot180", "dihedral"] = "bundle"
    fail_on_error: bool = True
    progress_bars: bool = True
    zarr_format: ZarrFormat = DEFAULT_ZARR_FORMAT
    since_last_overlap_days: float = Field(default=DEFAULT_OVERLAP_DAYS, ge=0.0, le=366.0)
    max_attempts: int = Field(default=DEFAULT_MAX_ATTEMPTS, ge=1)

    @field_validator("tta", mode="before")
    @classmethod
    def _tta_flag(cls, value: Any) -> Any:
        return tta_view_set(value)  # the on/off switch of earlier configs: 8 views or one

    def views(self, bundle_tta: str) -> str:
        """The view set a scan runs with, given the one the bundle's threshold was tuned with."""
        return bundle_tta if self.tta == "bundle" else self.tta

    @field_validator("input", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("bands", mode="before")
    @classmethod
    def _band_names(cls, value: Any) -> Any:
        from oceanscan.inputs import parse_bands

        if value is None:
            return None
        names = value.split(",") if isinstance(value, str) else value
        return list(parse_bands(names))

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str | None) -> str | None:
        from oceanscan.stac import PROFILES

        if value is not None and value not in PROFILES:
            raise ValueError(f"unknown profile {value!r}; must be one of {tuple(PROFILES)}")
        return value

    @field_validator("sign")
    @classmethod
    def _signer_form(cls, value: str | None) -> str | None:
        from oceanscan.stac.signing import SIGNERS

        if value is not None and value not in SIGNERS and ":" not in value:
            raise ValueError(
                f"unknown signer {value!r}; must be one of {tuple(SIGNERS)} or 'module:function'"
            )
        return value

    def href_modifier(self) -> Any:
        """The href modifier named by ``sign`` (imported now), or None.

        Raises:
            ConfigError: when its package is not installed (the message says what to install)
                or the name does not lead to a callable.
        """
        if self.sign is None:
            return None
        from oceanscan.stac.signing import resolve_signer

        return resolve_signer(self.sign)

    @field_validator("tile_size_px")
    @classmethod
    def _multiple_of_downsampling(cls, value: int) -> int:
        from oceanscan.model.unet import DOWNSAMPLING  # late: keeps torch out of plain imports

        if value % DOWNSAMPLING:
            raise ValueError(
                f"tile_size_px must be a multiple of {DOWNSAMPLING} (the U-Net down-samples "
                f"{DOWNSAMPLING}x), got {value}"
            )
        return value

    def region(self, name: str) -> Region:
        """The region called ``name``.

        Raises:
            ConfigError: naming the allowed regions when there is none of that name.
        """
        for region in self.regions:
            if region.name == name:
                return region
        names = [r.name for r in self.regions]
        raise ConfigError(f"unknown region {name!r}; configured regions are {names}")


def load_regions(path: str | Path) -> list[Region]:
    """Read a YAML file with a top-level ``regions`` list.

    Raises:
        ConfigError: naming the file and the bad field.
    """

    class _Regions(BaseModel):
        model_config = ConfigDict(extra="forbid")
        regions: list[Region]

    return load_config(path, _Regions).regions


def load_scan_config(path: str | Path, **overrides: Any) -> ScanConfig:
    """Read a scan config, merge its regions file and apply command-line overrides.

    Args:
        path: the YAML file.
        **overrides: fields to replace (None values are ignored), validated like the file.

    Raises:
        ConfigError: naming the file and the bad field.
    """
    path = Path(path)
    base = load_config(path, ScanConfig)
    data = base.model_dump()
    data.update({k: v for k, v in overrides.items() if v is not None})
    # The file alone is valid (above), so an error here comes from an override.
    config = validate_config(data, ScanConfig, source=f"command line (over {path})")
    if config.regions_file:
        file = Path(config.regions_file)
        if not file.is_absolute():
            file = path.parent / file
        names = {r.name for r in config.regions}
        extra = [r for r in load_regions(file) if r.name not in names]
        config = config.model_copy(update={"regions": [*config.regions, *extra]})
    return config
