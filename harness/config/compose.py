"""Compose a run's config without the command line (for suites, tests and notebooks)."""
from __future__ import annotations

from typing import Optional

from hydra import compose, initialize_config_module
from omegaconf import DictConfig

from harness.config.schema import register_configs


def compose_config(recipe: str, overrides: Optional[list[str]] = None) -> DictConfig:
    """The config `python -m harness +recipe=RECIPE *overrides` would run."""
    register_configs()
    from harness.__main__ import _register_resolvers

    _register_resolvers()
    with initialize_config_module(config_module="harness.conf", version_base="1.3"):
        return compose(config_name="config", overrides=[f"+recipe={recipe}", *(overrides or [])])
