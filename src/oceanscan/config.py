"""Loading YAML configuration into pydantic models, with errors that name the bad field.

Each subsystem owns its own model (``oceanscan.train.config``, ``oceanscan.scan.config``); this
module only turns a file into one of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from oceanscan.errors import ConfigError

__all__ = ["load_config", "validate_config"]

M = TypeVar("M", bound=BaseModel)


def _format(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "<root>"
        lines.append(f"{source}: field {where!r}: {e['msg']} (got {e.get('input')!r})")
    return "\n".join(lines)


def validate_config(data: dict[str, Any], model: type[M], *, source: str = "<config>") -> M:
    """Validate a mapping against ``model``.

    Raises:
        ConfigError: naming every bad field and the value it had.
    """
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format(err, source)) from err


def load_config(path: str | Path, model: type[M]) -> M:
    """Read a YAML file into ``model``.

    Raises:
        ConfigError: when the file is missing, is not valid YAML, is not a mapping, or a field
            is invalid; the message names the file and the field.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"cannot read configuration file {str(path)!r}: {err}") from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: malformed YAML: {err}") from err
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return validate_config(data, model, source=str(path))
