"""Turn a recipe config (or a Data-Juicer recipe file) into what the executor needs, checking
every op and parameter before any work starts."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from harness.errors import ConfigError
from harness.ops.base import Op
from harness.ops.registry import build_op, parse_op_entry

log = logging.getLogger(__name__)

#: Data-Juicer recipe keys that mean something here.
DJ_USED_KEYS = {"project_name", "dataset_path", "export_path", "text_keys", "np", "process",
                "description"}


@dataclass
class ResolvedRecipe:
    """A checked recipe: built ops, where to read and write, and what was ignored."""

    name: str
    ops: list[Op]
    process: list[Any]
    dataset_path: Optional[Path]
    export_path: Optional[Path]
    text_keys: list[str]
    np: Optional[int]
    ignored_keys: list[str] = field(default_factory=list)


def _text_keys(value: Any, where: str) -> list[str]:
    if value is None or value == "":
        return ["text"]
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value) and value:
        return list(value)
    raise ConfigError(f"{where}: text_keys must be a field name or a list of names, got {value!r}")


def build_ops(process: list[Any], where: str) -> list[Op]:
    """Build every op now, so an unknown op or parameter stops the run before any work."""
    if not isinstance(process, list):
        raise ConfigError(f"{where}: process must be a list of {{op_name: {{params}}}} entries")
    ops = []
    for position, entry in enumerate(process, start=1):
        try:
            name, params = parse_op_entry(entry)
            ops.append(build_op({name: params}))
        except ConfigError as error:
            raise type(error)(f"{where}: process entry {position}: {error}") from None
        except TypeError as error:
            raise ConfigError(f"{where}: process entry {position}: {error}") from None
    return ops


def load_data_juicer_recipe(path: str) -> dict[str, Any]:
    """A Data-Juicer recipe YAML as a dict; a clear error when it cannot be read."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"recipe.path: Data-Juicer recipe file {str(file)!r} does not exist; "
                          f"pass an existing YAML file (recipe.path=FILE)")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{file}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: a Data-Juicer recipe must be a mapping with a 'process' list")
    return data


def resolve_recipe(recipe: dict[str, Any], name: str, base_dir: Path) -> ResolvedRecipe:
    """Check a recipe (Data-Juicer format). Relative paths resolve against ``base_dir`` (the
    directory the command was started in), as Data-Juicer resolves them."""
    where = f"recipe {name!r}"
    ignored: list[str] = []
    if recipe.get("path"):
        where = f"Data-Juicer recipe {recipe['path']!r}"
        loaded = load_data_juicer_recipe(str(recipe["path"]))
        ignored = sorted(k for k in loaded if k not in DJ_USED_KEYS)
        overrides = {k: v for k, v in recipe.items() if k != "path" and v not in ("", None, [])}
        recipe = {**loaded, **overrides}
        if "process" not in loaded and not overrides.get("process"):
            raise ConfigError(f"{where} has no 'process' list of ops")
    elif not recipe.get("process") and name == "dj":
        raise ConfigError("recipe 'dj' needs recipe.path=FILE: the Data-Juicer recipe YAML to run, "
                          "for example: python -m harness +recipe=dj recipe.path=recipe.yaml")
    ops = build_ops(list(recipe.get("process") or []), where)
    if not ops:
        raise ConfigError(f"{where}: process is empty; list at least one op")

    def path_of(key: str) -> Optional[Path]:
        value = recipe.get(key)
        if not value:
            return None
        p = Path(os.path.expanduser(str(value)))
        return p if p.is_absolute() else base_dir / p

    np_value = recipe.get("np")
    if np_value is not None and (not isinstance(np_value, int) or np_value < 1):
        raise ConfigError(f"{where}: np must be a positive integer, got {np_value!r}")
    for op in ops:
        ignored.extend(f"{op.name}.{key}" for key in op.ignored_params)
    return ResolvedRecipe(
        name=str(recipe.get("project_name") or name), ops=ops,
        process=list(recipe.get("process") or []),
        dataset_path=path_of("dataset_path"), export_path=path_of("export_path"),
        text_keys=_text_keys(recipe.get("text_keys"), where), np=np_value, ignored_keys=ignored,
    )
