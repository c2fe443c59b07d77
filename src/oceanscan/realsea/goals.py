"""The goals of the real-sea measurement, and where the model stands against FDI."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from oceanscan.realsea.duarte import CLASS_NAMES, LOOKALIKES, PLASTIC
from oceanscan.realsea.filaments import TRACE_MATCH_PX

__all__ = ["evaluate_goals", "json_clean"]


def _goal(value: float, op: str, target: float) -> dict[str, Any]:
    ok = (value >= target if op == ">=" else value <= target) if math.isfinite(value) else False
    return {"value": value, "target": f"{op} {target:g}", "met": bool(ok)}


def _comparisons(result: Mapping[str, Any]) -> list[tuple[str, float, float, bool]]:
    """Every figure given for both: ``(name, model, fdi, higher_is_better)``."""
    out: list[tuple[str, float, float, bool]] = []
    d = result["durban"]
    for key in ("matched_recall", "recall"):
        out.append((f"durban.{key}", d["model"][key], d["fdi"][key], True))
    for key in ("flagged_fraction", "detections_per_km2"):
        out.append(
            (
                f"durban.other_water.{key}",
                d["model"]["other_water"][key],
                d["fdi"]["other_water"][key],
                False,
            )
        )
    for name, s in result["false_alarms"].items():
        for key in ("flagged_fraction", "detections_per_km2"):
            out.append((f"{name}.{key}", s["model"][key], s["fdi"][key], False))
    du = result["duarte"]
    for cls, auc in du["model"]["auc_plastic_vs"].items():
        out.append((f"duarte.auc_plastic_vs.{cls}", auc, du["fdi"]["auc_plastic_vs"][cls], True))
    for cls, frac in du["model"]["flagged_fraction"].items():
        higher = cls == CLASS_NAMES[PLASTIC]
        out.append(
            (f"duarte.flagged_fraction.{cls}", frac, du["fdi"]["flagged_fraction"][cls], higher)
        )
    sy = result["synthetic"]
    test = sy["test"]
    out.append(("synthetic.test.f1", test["model"]["f1"], test["fdi"]["f1"], True))
    key = "false_detections_per_km2"
    if key in test["model"] and key in test["fdi"]:
        out.append((f"synthetic.test.{key}", test["model"][key], test["fdi"][key], False))
    for key in ("flagged_fraction", "detections_per_km2"):
        out.append(
            (
                f"synthetic.debris_free.{key}",
                sy["debris_free"]["model"][key],
                sy["debris_free"]["fdi"][key],
                False,
            )
        )
    return out


def evaluate_goals(result: Mapping[str, Any]) -> dict[str, Any]:
    """The targets of the real-sea measurement, each with its ``value``, ``target`` and ``met``.

    Args:
        result: the dict of :func:`measure_real_sea` (``durban``, ``false_alarms``, ``duarte``,
            ``synthetic``).

    Returns:
        One entry per goal. ``model_beats_fdi_on_every_figure`` is met when the model is at
        least as good as FDI on every figure given for both (a tie, such as both flagging
        nothing, does not count against it); its ``worse_than_fdi`` lists the others.
    """
    d, fa, du = result["durban"], result["false_alarms"], result["duarte"]
    aucs = {c: du["model"]["auc_plastic_vs"][CLASS_NAMES[c]] for c in LOOKALIKES}
    flagged = du["model"]["flagged_fraction"]
    worst_auc = min(aucs, key=lambda c: aucs[c] if math.isfinite(aucs[c]) else -math.inf)
    worst_flag = max(LOOKALIKES, key=lambda c: _nan_high(flagged[CLASS_NAMES[c]]))
    goals: dict[str, Any] = {
        "durban_recall": {
            **_goal(d["model"]["matched_recall"], ">=", 0.6),
            "figure": f"durban.model.matched_recall (a flag within {TRACE_MATCH_PX} px of a "
            "traced pixel finds it)",
            "pixel_exact": d["model"]["recall"],
        },
        "durban_other_water_flagged_fraction": _goal(
            d["model"]["other_water"]["flagged_fraction"], "<=", 0.0005
        ),
        "manila_open_sea_flagged_fraction": _goal(
            fa["manila_open_sea"]["model"]["flagged_fraction"], "<=", 0.0001
        ),
        "manila_open_sea_detections_per_km2": _goal(
            fa["manila_open_sea"]["model"]["detections_per_km2"], "<=", 0.3
        ),
        "manila_port_flagged_fraction": _goal(
            fa["manila_port"]["model"]["flagged_fraction"], "<=", 0.0005
        ),
        "mariveles_flagged_fraction": _goal(
            fa["mariveles"]["model"]["flagged_fraction"], "<=", 0.0005
        ),
        "duarte_auc_plastic_vs_every_lookalike": {
            **_goal(aucs[worst_auc], ">=", 0.85),
            "worst": CLASS_NAMES[worst_auc],
        },
        "duarte_plastic_flagged_fraction": _goal(flagged[CLASS_NAMES[PLASTIC]], ">=", 0.5),
        "duarte_lookalike_flagged_fraction_max": {
            **_goal(flagged[CLASS_NAMES[worst_flag]], "<=", 0.1),
            "worst": CLASS_NAMES[worst_flag],
        },
        "synthetic_test_f1": _goal(result["synthetic"]["test"]["model"]["f1"], ">=", 0.85),
    }
    worse = [
        name
        for name, model, base, higher in _comparisons(result)
        if not (math.isfinite(model) and math.isfinite(base))
        or (model < base if higher else model > base)
    ]
    goals["model_beats_fdi_on_every_figure"] = {
        "value": len(worse),
        "target": "== 0 figures where FDI is better (ties count for the model)",
        "met": not worse,
        "worse_than_fdi": worse,
    }
    return goals


def _nan_high(value: float) -> float:
    return value if math.isfinite(value) else math.inf


def json_clean(value: Any) -> Any:
    """NaN and infinities become None, numpy scalars plain Python, recursively."""
    if isinstance(value, Mapping):
        return {str(k): json_clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
