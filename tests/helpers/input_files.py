"""Scene inputs built from the real Mariveles crop: a folder of band files and an L2A ``.SAFE``.

The pixels are the real ones of ``../shared/real/mariveles_l2a_scl.tif`` (L2A DN, harmonised),
written at each band's native resolution (20 m and 60 m bands as block means), so a scene read
back from these layouts can be compared with the GeoTIFF it came from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

from oceanscan.sentinel2 import BAND_INFO

#: File order of the real multi-band crops (band 13 is Sen2Cor's SCL).
FILE_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
BANDS_ARG = ",".join((*FILE_BANDS, "SCL"))
_RES = {info.name: info.resolution_m for info in BAND_INFO} | {"B09": 60, "SCL": 20}

PRODUCT = "S2B_MSIL2A_20240305T022109_N0510_R003_T51PTS_20240305T060000"
GRANULE = "L2A_T51PTS_A036543_20240305T022107"
TILE_TIME = "T51PTS_20240305T022109"


def read_real(path: Path) -> tuple[dict[str, np.ndarray], Affine, str]:
    """The 12 bands and the SCL of a real crop by name, its transform and CRS."""
    with rasterio.open(path) as src:
        data = src.read()
        transform, crs = src.transform, src.crs.to_string()
    bands = {name: data[i] for i, name in enumerate(FILE_BANDS)}
    bands["SCL"] = data[12]
    return bands, transform, crs


def _coarsen(data: np.ndarray, factor: int, *, categorical: bool) -> np.ndarray:
    if factor == 1:
        return data
    if categorical:
        return data[::factor, ::factor]
    h, w = data.shape[0] // factor, data.shape[1] // factor
    blocks = data[: h * factor, : w * factor].reshape(h, factor, w, factor).astype(np.float64)
    valid = blocks > 0
    total = (blocks * valid).sum(axis=(1, 3))
    count = valid.sum(axis=(1, 3))
    out = np.where(count == factor * factor, np.round(total / np.maximum(count, 1)), 0)
    return out.astype(data.dtype)


def write_band(path: Path, data: np.ndarray, transform: Affine, crs: str, driver: str) -> None:
    """One band; JPEG 2000 losslessly (REVERSIBLE, QUALITY=100) as ESA writes the products."""
    options = {"QUALITY": "100", "REVERSIBLE": "YES"} if driver == "JP2OpenJPEG" else {}
    with rasterio.open(
        path,
        "w",
        driver=driver,
        width=data.shape[1],
        height=data.shape[0],
        count=1,
        dtype=data.dtype,
        crs=crs,
        transform=transform,
        **options,
    ) as dst:
        dst.write(data, 1)


def native(name: str, data: np.ndarray, transform: Affine) -> tuple[np.ndarray, Affine, int]:
    """A band at its native resolution: data, transform, resolution in metres."""
    res = _RES[name]
    factor = res // 10
    coarse = _coarsen(data, factor, categorical=name == "SCL")
    return coarse, transform @ Affine.scale(factor), res


def write_band_folder(real: Path, folder: Path, *, offset_dn: int = 0) -> Path:
    """``folder/<tile>_<time>_<band>.tif`` for every band and SCL, at native resolutions."""
    bands, transform, crs = read_real(real)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in bands.items():
        if name != "SCL" and offset_dn:
            data = np.where(data > 0, data.astype(np.int32) + offset_dn, 0).astype(np.uint16)
        coarse, t, _ = native(name, data, transform)
        write_band(folder / f"{TILE_TIME}_{name}.tif", coarse, t, crs, "GTiff")
    return folder


_MTD = """<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-2A_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <n1:General_Info>
    <Product_Info>
      <PRODUCT_START_TIME>2024-03-05T02:21:09.024Z</PRODUCT_START_TIME>
      <PRODUCT_STOP_TIME>2024-03-05T02:21:09.024Z</PRODUCT_STOP_TIME>
      <PRODUCT_URI>{product}.SAFE</PRODUCT_URI>
      <PROCESSING_LEVEL>Level-2A</PROCESSING_LEVEL>
      <PRODUCT_TYPE>S2MSI2A</PRODUCT_TYPE>
      <PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>
      <Datatake datatakeIdentifier="GS2B_20240305T022109_036543_N05.10">
        <SPACECRAFT_NAME>Sentinel-2B</SPACECRAFT_NAME>
        <DATATAKE_TYPE>INS-NOBS</DATATAKE_TYPE>
        <DATATAKE_SENSING_START>2024-03-05T02:21:09.024Z</DATATAKE_SENSING_START>
      </Datatake>
    </Product_Info>
    <Product_Image_Characteristics>
      <Special_Values><SPECIAL_VALUE_TEXT>NODATA</SPECIAL_VALUE_TEXT><SPECIAL_VALUE_INDEX>0</SPECIAL_VALUE_INDEX></Special_Values>
      <Special_Values><SPECIAL_VALUE_TEXT>SATURATED</SPECIAL_VALUE_TEXT><SPECIAL_VALUE_INDEX>65535</SPECIAL_VALUE_INDEX></Special_Values>
      <QUANTIFICATION_VALUES_LIST>
        <BOA_QUANTIFICATION_VALUE unit="none">10000</BOA_QUANTIFICATION_VALUE>
        <AOT_QUANTIFICATION_VALUE unit="none">1000.0</AOT_QUANTIFICATION_VALUE>
        <WVP_QUANTIFICATION_VALUE unit="cm">1000.0</WVP_QUANTIFICATION_VALUE>
      </QUANTIFICATION_VALUES_LIST>
{offsets}
      <Spectral_Information_List>
{spectral}
      </Spectral_Information_List>
    </Product_Image_Characteristics>
  </n1:General_Info>
  <n1:Geometric_Info>
    <Product_Footprint><Product_Footprint><Global_Footprint>
      <EXT_POS_LIST>{footprint}</EXT_POS_LIST>
    </Global_Footprint></Product_Footprint></Product_Footprint>
  </n1:Geometric_Info>
  <n1:Quality_Indicators_Info>
    <Cloud_Coverage_Assessment>0.43</Cloud_Coverage_Assessment>
  </n1:Quality_Indicators_Info>
</n1:Level-2A_User_Product>
"""
_PHYSICAL = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")


def write_safe(
    real: Path, parent: Path, *, baseline: str = "05.10", offset_dn: int = -1000
) -> Path:
    """An L2A ``.SAFE`` of the real crop: JP2 bands in R10m/R20m/R60m, ``MTD_MSIL2A.xml``.

    The DN are the real (harmonised) DN minus ``offset_dn`` (plus 1000 for baseline 05.10), so
    ``(DN + BOA_ADD_OFFSET) / 10000`` gives back the real reflectance. Like a real product, R20m
    and R60m also hold coarser copies of the 10 m bands, and AOT/WVP/TCI files that are no bands.
    """
    bands, transform, crs = read_real(real)
    safe = parent / f"{PRODUCT}.SAFE"
    img = safe / "GRANULE" / GRANULE / "IMG_DATA"
    for res in (10, 20, 60):
        (img / f"R{res}m").mkdir(parents=True, exist_ok=True)
    for name, data in bands.items():
        if name != "SCL":
            data = np.where(data > 0, data.astype(np.int32) - offset_dn, 0).astype(np.uint16)
        coarse, t, res = native(name, data, transform)
        write_band(
            img / f"R{res}m" / f"{TILE_TIME}_{name}_{res}m.jp2", coarse, t, crs, "JP2OpenJPEG"
        )
        if res == 10:  # the product's coarser copies
            copy, t20 = _coarsen(data, 2, categorical=False), transform @ Affine.scale(2)
            write_band(img / "R20m" / f"{TILE_TIME}_{name}_20m.jp2", copy, t20, crs, "JP2OpenJPEG")
    aot = np.full((48, 48), 120, dtype=np.uint16)
    write_band(
        img / "R10m" / f"{TILE_TIME}_AOT_10m.jp2",
        aot,
        transform @ Affine.scale(10),
        crs,
        "JP2OpenJPEG",
    )
    offsets = ""
    if offset_dn:
        rows = "\n".join(
            f'        <BOA_ADD_OFFSET band_id="{i}">{offset_dn}</BOA_ADD_OFFSET>' for i in range(13)
        )
        offsets = f"      <BOA_ADD_OFFSET_VALUES_LIST>\n{rows}\n      </BOA_ADD_OFFSET_VALUES_LIST>"
    spectral = "\n".join(
        f'        <Spectral_Information bandId="{i}" physicalBand="{b}"/>'
        for i, b in enumerate(_PHYSICAL)
    )
    with rasterio.open(real) as src:
        from rasterio.warp import transform_bounds

        w, s, e, n = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    footprint = f"{n} {w} {n} {e} {s} {e} {s} {w} {n} {w}"
    (safe / "MTD_MSIL2A.xml").write_text(
        _MTD.format(
            product=PRODUCT,
            baseline=baseline,
            offsets=offsets,
            spectral=spectral,
            footprint=footprint,
        )
    )
    return safe
