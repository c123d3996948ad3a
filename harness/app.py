"""Compose → build executor, faults and reports → run. The only place that joins the rooms."""
from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Any, Optional

from omegaconf import DictConfig, OmegaConf

from harness.config.recipe import ResolvedRecipe, resolve_recipe
from harness.data.sample import sample_dataset_path
from harness.errors import ConfigError, HarnessError, InputError  # noqa: F401 (HarnessError used by __main__)
from harness.executor.executor import LocalModeExecutor
from harness.executor.result import RunResult
from harness.executor.settings import ExecutorSettings, ResourceSettings, settings_from
from harness.faults import build_hooks
from harness.faults.schema import FaultsSettings
from harness.report.console import ProgressBar, print_summary
from harness.report.report import write_report

log = logging.getLogger("harness")


def available_recipes() -> dict[str, str]:
    """Recipe names shipped in conf/recipe with their one-line descriptions."""
    folder = resources.files("harness").joinpath("conf/recipe")
    found = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml") and entry.name != "schema.yaml":
            text = entry.read_text("utf-8")
            description = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                                if line.startswith("description:")), "")
            found[entry.name[:-5]] = description
    return found


def recipes_listing() -> str:
    lines = ["No recipe given. Name one with +recipe=NAME, for example:",
             "  python -m harness +recipe=quickstart", "", "Recipes:"]
    for name, description in available_recipes().items():
        lines.append(f"  {name:<14} {description}")
    lines.append("")
    lines.append("A Data-Juicer recipe file runs with: python -m harness +recipe=dj recipe.path=FILE")
    return "\n".join(lines)


def settings_of(cfg: DictConfig) -> tuple[ExecutorSettings, ResourceSettings, FaultsSettings]:
    """The typed settings of a composed config."""
    executor = settings_from(cfg.executor, ExecutorSettings, "executor").validate()
    resources_ = settings_from(cfg.resources, ResourceSettings, "resources")
    faults = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(FaultsSettings), cfg.faults))
    return executor, resources_, faults  # type: ignore[return-value]


def prepare(cfg: DictConfig, recipe_name: str, base_dir: Path) -> tuple[ResolvedRecipe, ExecutorSettings,
                                                                         ResourceSettings, FaultsSettings]:
    """Check everything that can be checked before work starts (exit code 2 on a problem)."""
    if "recipe" not in cfg or cfg.recipe is None:
        raise ConfigError(recipes_listing())
    recipe_dict = OmegaConf.to_container(cfg.recipe, resolve=True)
    assert isinstance(recipe_dict, dict)
    recipe = resolve_recipe(recipe_dict, recipe_name, base_dir)
    executor, resources_, faults = settings_of(cfg)
    if recipe.np and not executor.workers:
        executor.workers = recipe.np
    if recipe.dataset_path is not None and not recipe.dataset_path.exists():
        raise InputError(f"input dataset {str(recipe.dataset_path)!r} does not exist; set "
                         f"recipe.dataset_path=FILE to an existing JSONL, JSON or Parquet file")
    if recipe.ignored_keys:
        log.warning("these recipe keys have no meaning in harness and are ignored: %s",
                    ", ".join(recipe.ignored_keys))
    return recipe, executor, resources_, faults


def run(cfg: DictConfig, run_dir: Path, recipe_name: str, overrides: Optional[list[str]] = None,
        base_dir: Optional[Path] = None, show_progress: Optional[bool] = None) -> RunResult:
    """Run one composed config; writes output, quarantine.jsonl and report.json in ``run_dir``."""
    recipe, executor_settings, resources_, faults = prepare(cfg, recipe_name, base_dir or Path.cwd())
    run_dir.mkdir(parents=True, exist_ok=True)
    dataset: Any = recipe.dataset_path or sample_dataset_path()
    executor = LocalModeExecutor(executor_settings, resources=resources_, hooks=build_hooks(faults))
    progress = show_progress if show_progress is not None else executor_settings.progress
    with ProgressBar(enabled=progress, description=recipe.name) as bar:
        result = executor.process_dataset(dataset, recipe.ops, output=recipe.export_path,
                                          run_dir=run_dir, text_keys=recipe.text_keys,
                                          progress=bar.advance)
    result.extra.update({
        "recipe": recipe.name,
        "dataset": str(dataset),
        "overrides": list(overrides or []),
        "faults": faults.name,
        "config": OmegaConf.to_container(cfg, resolve=True),
    })
    write_report(result.report, run_dir / "report.json")
    print_summary(result.report)
    return result


def failure_report(run_dir: Path, error: BaseException, overrides: list[str]) -> None:
    """report.json for a run that failed, so sweeps and suites can show why."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_report({"schema": "harness.report/1", "status": "failed",
                  "error": f"{type(error).__name__}: {error}",
                  "exit_code": getattr(error, "exit_code", 1), "overrides": overrides},
                 run_dir / "report.json")


def exit_code_of(error: BaseException) -> int:
    return error.exit_code if isinstance(error, HarnessError) else 1

