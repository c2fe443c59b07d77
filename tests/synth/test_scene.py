import csv

import numpy as np
import pytest
from scipy import ndimage

from oceanscan.sentinel2 import SCL, fdi, ndvi
from oceanscan.synth.scene import SyntheticScene, fdi_threshold_f1, synthesize_scene
from oceanscan.synth.spectra import class_spectrum, material_endmember
from tests.helpers.shared import shared_path

HARD_NEGATIVES = (2, 5, 8, 9)  # Dense Sargassum, Ship, Sediment-Laden Water, Foam


@pytest.fixture(scope="module")
def patches() -> list[SyntheticScene]:
    """A set of default-generator patches, as the MARIDA writer makes them."""
    return [synthesize_scene(128, 128, seed=100 + i) for i in range(24)]


@pytest.fixture(scope="module")
def coastal() -> SyntheticScene:
    return synthesize_scene(192, 160, seed=5, land_fraction=0.3, cloud_fraction=0.15)


def _stack(scenes):
    refl = np.concatenate([s.reflectance.reshape(11, -1) for s in scenes], axis=1)
    labels = np.concatenate([s.labels.ravel() for s in scenes])
    return refl, labels


def test_types_shapes_and_ranges(coastal):
    s = coastal
    assert s.reflectance.shape == (11, 192, 160) and s.reflectance.dtype == np.float32
    assert s.labels.shape == s.scl.shape == s.land.shape == (192, 160)
    assert s.labels.dtype == np.uint8 and s.scl.dtype == np.uint8 and s.land.dtype == bool
    assert np.isfinite(s.reflectance).all()
    assert s.reflectance.min() > 0 and s.reflectance.max() < 1
    assert set(np.unique(s.labels)) <= set(range(16))


def test_same_seed_same_scene_other_seed_other_scene():
    a = synthesize_scene(64, 64, seed=3)
    b = synthesize_scene(64, 64, seed=3)
    c = synthesize_scene(64, 64, seed=4)
    np.testing.assert_array_equal(a.reflectance, b.reflectance)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.scl, b.scl)
    assert not np.array_equal(a.reflectance, c.reflectance)


def test_land_is_unlabelled_and_classified_as_land(coastal):
    s = coastal
    assert 0.25 < s.land.mean() < 0.35
    assert (s.labels[s.land] == 0).all()
    assert (s.labels[~s.land] > 0).mean() > 0.98  # only the rim of debris is left out
    # land is one side of a coastline: its largest connected piece holds most of it
    pieces, _ = ndimage.label(s.land)
    assert np.bincount(pieces.ravel())[1:].max() > 0.8 * s.land.sum()
    clear_land = s.land & (s.labels == 0) & ~np.isin(s.scl, (3, 8, 9, 10))
    assert np.isin(s.scl[clear_land], (SCL.VEGETATION, SCL.NOT_VEGETATED)).mean() > 0.9
    # vegetation is bright in the NIR, water dark
    assert np.median(s.reflectance[7][s.land]) > 5 * np.median(s.reflectance[7][s.labels == 7])


def test_clouds_shadows_and_their_scl_codes():
    s = synthesize_scene(256, 256, seed=11, cloud_fraction=0.2)
    cloud = s.labels == 6
    assert 0.17 < cloud.mean() < 0.23
    assert np.isin(s.scl[cloud], (8, 9, 10)).mean() > 0.9
    shadow = s.labels == 13
    assert shadow.any() and not (shadow & cloud).any()
    assert (s.scl[shadow] == SCL.CLOUD_SHADOWS).mean() > 0.7
    assert np.median(s.reflectance[1][cloud]) > 0.05  # clouds are bright
    # the shadow is the cloud displaced away from the sun: some shift of the cloud mask
    # (not zero) covers nearly all shadow pixels
    soft_cloud = s.scl >= 8
    best = max(
        (np.roll(soft_cloud, (dy, dx), axis=(0, 1))[shadow].mean(), (dy, dx))
        for dy in range(-32, 33, 2)
        for dx in range(-32, 33, 2)
    )
    assert best[0] > 0.8 and best[1] != (0, 0)
    # water is classified as water
    assert (s.scl[s.labels == 7] == SCL.WATER).mean() > 0.9


def test_debris_is_a_small_faint_sub_pixel_fraction(patches):
    _, labels = _stack(patches)
    frac = (labels == 1).mean()
    assert 0.001 <= frac <= 0.01
    abundance = np.concatenate([s.debris_abundance[s.labels == 1] for s in patches])
    assert abundance.max() <= 0.6 + 1e-6
    assert 0.15 < np.median(abundance) < 0.45
    assert abundance.min() >= 0.1  # fainter debris is left unlabelled


def test_debris_comes_as_filaments_and_small_patches(patches):
    sizes, elongated = [], 0
    for s in patches:
        comp, _ = ndimage.label(s.labels == 1, structure=np.ones((3, 3)))
        for sl in ndimage.find_objects(comp):
            h, w = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
            sizes.append((comp[sl] > 0).sum())
            elongated += max(h, w) >= 6
    sizes = np.array(sizes)
    assert np.median(sizes) < 30  # small objects, no large blobs
    assert elongated > 0.3 * len(sizes)  # many filaments


def test_hard_negatives_are_in_most_patches(patches):
    with_negatives = [any((s.labels == c).sum() >= 3 for c in HARD_NEGATIVES) for s in patches]
    assert np.mean(with_negatives) >= 0.75


@pytest.mark.parametrize(
    ("class_id", "name"),
    [(1, "Marine Debris"), (9, "Foam"), (2, "Dense Sargassum"), (7, "Marine Water")],
)
def test_labelled_pixels_reproduce_the_published_class_spectrum(patches, class_id, name):
    # MARIDA's signatures are medians over annotated pixels, themselves sub-pixel mixtures: the
    # generator's labelled pixels must look like them, not like a second dilution with water
    refl, labels = _stack(patches)
    ours = np.median(refl[:, labels == class_id], axis=1)
    published = class_spectrum(class_id)
    for band in (1, 2, 3, 7):  # B02, B03, B04, B08: native 10 m, not blurred by resampling
        assert ours[band] == pytest.approx(published[band], rel=0.2), (name, band)


def test_material_endmember_unmixes_the_published_spectrum():
    water, debris = class_spectrum(7), class_spectrum(1)
    pure = material_endmember(debris, 0.25)
    np.testing.assert_allclose(0.75 * water + 0.25 * pure, debris, rtol=1e-5)
    np.testing.assert_array_equal(material_endmember(debris, 1.0), debris)
    assert (pure[[3, 7]] > debris[[3, 7]]).all()  # purer material: brighter in red and NIR
    with pytest.raises(ValueError, match="abundance"):
        material_endmember(debris, 0.0)


def test_fdi_orders_classes_physically_but_does_not_separate_debris(patches):
    refl, labels = _stack(patches)
    index = fdi(refl)
    mean = {c: index[labels == c].mean() for c in (1, 2, 7, 9) if (labels == c).any()}
    assert mean[1] > mean[7]  # debris raises NIR above the water baseline
    assert mean[9] > mean[1] and mean[2] > mean[1]  # hard negatives are brighter still
    f1, threshold = fdi_threshold_f1(refl, labels)
    assert f1 < 0.6, f"an FDI threshold ({threshold:.4f}) separates debris with F1 {f1:.2f}"


def test_index_centroids_agree_with_biermann_2020(patches):
    points: dict[str, list[tuple[float, float]]] = {}
    with open(shared_path("reference", "biermann2020_ndvi_fdi_points.csv")) as fh:
        for row in csv.DictReader(fh):
            points.setdefault(row["label"], []).append((float(row["ndvi"]), float(row["fdi"])))
    pub = {k: np.mean(v, axis=0) for k, v in points.items()}
    refl, labels = _stack(patches)
    ours_of = {"plastic": 1, "seawater": 7, "seaweed": 2, "seafoam": 9}
    ours = {k: (ndvi(refl[:, labels == c]).mean(), fdi(refl[:, labels == c]).mean())
            for k, c in ours_of.items()}  # fmt: skip
    # the published ordering in both indices holds for the synthetic classes
    for a, b, axis in (
        ("seawater", "plastic", 1),  # FDI: seawater < plastic
        ("plastic", "seaweed", 1),  # FDI: plastic < seaweed
        ("seawater", "plastic", 0),  # NDVI: seawater < plastic
        ("seafoam", "plastic", 0),  # NDVI: foam < plastic
        ("plastic", "seaweed", 0),  # NDVI: plastic < seaweed
    ):
        assert pub[a][axis] < pub[b][axis]
        assert ours[a][axis] < ours[b][axis], (a, b, axis, ours)


def test_coarse_bands_blur_thin_debris():
    s = synthesize_scene(256, 256, seed=21, cloud_fraction=0.0)
    debris = s.labels == 1
    water = s.labels == 7
    # contrast of debris against water, relative to the pure-spectra contrast: the 10 m B08
    # keeps more of it than the 20 m B8A, which averages each filament with its neighbours
    b08 = s.reflectance[7][debris].mean() - s.reflectance[7][water].mean()
    b8a = s.reflectance[8][debris].mean() - s.reflectance[8][water].mean()
    from oceanscan.synth.spectra import class_spectrum

    pure = class_spectrum(1) - class_spectrum(7)
    assert b08 / pure[7] > 1.3 * (b8a / pure[8])


def test_fdi_threshold_f1_on_a_known_case():
    refl = np.zeros((11, 1, 6), dtype=np.float32)
    refl[7, 0] = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]  # FDI = B08 when B06 = B11 = 0
    labels = np.array([[7, 1, 7, 1, 1, 0]], dtype=np.uint8)  # last pixel unlabelled
    f1, threshold = fdi_threshold_f1(refl, labels)
    # best cut: FDI > 0.05 -> predicts 4 pixels, 3 true: F1 = 6 / (4 + 3)
    assert f1 == pytest.approx(6 / 7)
    assert 0.0 < threshold < 0.1
    with pytest.raises(ValueError, match="no pixel labelled 1"):
        fdi_threshold_f1(refl, np.full((1, 6), 7, dtype=np.uint8))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"height": 8, "width": 64}, "size"),
        ({"cloud_fraction": 1.5}, "cloud_fraction"),
        ({"land_fraction": -0.1}, "land_fraction"),
        ({"debris_fraction": 2.0}, "debris_fraction"),
        ({"hard_negative_density": -1.0}, "hard_negative_density"),
    ],
)
def test_invalid_arguments_raise_value_error(kwargs, match):
    args = {"height": 64, "width": 64, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        synthesize_scene(**args)
