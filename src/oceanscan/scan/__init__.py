"""Scene-wide scanning: tiling, reading, prediction, Zarr writing, ledger, pipeline."""
