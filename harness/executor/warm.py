"""Start the worker fork server early, so its imports (torch, the ops) run in parallel with the
driver's own start-up instead of delaying the first batch."""
from __future__ import annotations

from harness.executor.pools import _mp_context


def start_worker_server() -> bool:
    """Launch the fork server the worker pools will fork from (True if there is one). Costs the
    caller a few milliseconds: the server preloads its modules in its own process. Pools created
    later reuse it; it exits with this process."""
    if _mp_context().get_start_method() != "forkserver":
        return False
    from multiprocessing import forkserver

    try:
        forkserver.ensure_running()
    except OSError:  # no fork server here (sandbox without AF_UNIX...): pools start it or spawn
        return False
    return True


__all__ = ["start_worker_server"]
