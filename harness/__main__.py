"""`python -m harness +recipe=NAME [overrides]` — Hydra entry point. `-m` sweeps."""
from __future__ import annotations

import logging
import os
import sys
import uuid
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from harness.config.schema import register_configs

log = logging.getLogger("harness")

#: Set once Hydra has composed a config and called the task: an exit code 1 before that is
#: Hydra refusing the command line (a config error), which harness reports as exit code 2.
_state = {"task_started": False, "failed_jobs": 0}


#: One per process: a sweep's jobs share it, two commands started in the same second do not.
_RUN_ID = uuid.uuid4().hex[:6]


def _register_resolvers() -> None:
    if not OmegaConf.has_resolver("run_id"):
        # A short random suffix: two runs started in the same second never share a directory.
        OmegaConf.register_new_resolver("run_id", lambda: _RUN_ID)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def _task(cfg: DictConfig) -> int:
    from harness import app

    _state["task_started"] = True
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    recipe_name = hydra_cfg.runtime.choices.get("recipe") or "recipe"
    overrides = list(hydra_cfg.overrides.task)
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    try:
        app.run(cfg, run_dir, recipe_name, overrides)
        return 0
    except Exception as error:  # every failure is reported in words, then turned into an exit code
        code = app.exit_code_of(error)
        app.failure_report(run_dir, error, overrides)
        if code == 2 and "recipe" not in cfg:
            print(str(error), file=sys.stderr)
        else:
            log.error("%s", error, exc_info=code != 2 and not isinstance(error, app.HarnessError))
        if multirun:
            _state["failed_jobs"] += 1
            return code
        raise SystemExit(code) from None


def main() -> None:
    register_configs()
    _register_resolvers()
    try:
        _task()
    except KeyboardInterrupt:
        # The executor already ended its workers and discarded the partial output file.
        print("interrupted: no output was written for the unfinished run", file=sys.stderr)
        raise SystemExit(130) from None
    except SystemExit as exit_:
        if exit_.code == 1 and not _state["task_started"]:
            raise SystemExit(2) from None
        raise
    if _state["failed_jobs"]:
        raise SystemExit(1)


def _exit_now(code: object) -> None:
    """End `python -m harness` without the interpreter's teardown (about half a second with torch
    loaded). By now the output, report and logs are written and every worker pool is shut down."""
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


if __name__ == "__main__":
    try:
        main()
    except SystemExit as exit_:
        _exit_now(exit_.code)
    _exit_now(0)
