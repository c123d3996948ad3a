"""Structured schemas for every config group, registered with Hydra's ConfigStore. An unknown
key or a value of the wrong type stops the run before any work."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore

from harness.executor.settings import ExecutorSettings, ResourceSettings
from harness.faults.schema import FaultsSettings


@dataclass
class RecipeConfig:
    """A recipe in Data-Juicer's format (plus ``path``: a Data-Juicer recipe file to load)."""

    project_name: str = ""
    description: str = ""
    #: Input file or directory; empty means the sample dataset shipped inside harness.
    dataset_path: str = ""
    #: Output file (.jsonl, .jsonl.gz, .parquet); empty means output.jsonl in the run directory.
    export_path: str = ""
    text_keys: Any = "text"
    #: Data-Juicer's process count: the number of CPU workers unless executor.workers is set.
    np: Optional[int] = None
    process: list[Any] = field(default_factory=list)
    #: A Data-Juicer recipe YAML to run unchanged (used by the `dj` recipe).
    path: str = ""


_REGISTERED = False


def register_configs() -> None:
    """Put the schemas in Hydra's ConfigStore (group configs extend them via `defaults`)."""
    global _REGISTERED
    if _REGISTERED:
        return
    store = ConfigStore.instance()
    store.store(group="executor", name="schema", node=ExecutorSettings)
    store.store(group="resources", name="schema", node=ResourceSettings)
    store.store(group="faults", name="schema", node=FaultsSettings)
    store.store(group="recipe", name="schema", node=RecipeConfig)
    _REGISTERED = True
