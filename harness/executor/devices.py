"""A device assignment travels with each GPU-stage task to the device's worker process: where to
compute, how to count memory (simulated devices), and the batch sizers learned so far."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

from harness.executor.op_runner import Placement
from harness.ops.base import Op
from harness.resources.simulated import SimulatedDevice
from harness.strategy.sizing import AdaptiveBatchSizer, SizerState, initial_batch_size, state_dict

#: Per worker process: the controller of each (op signature, device), alive across batches.
_SIZERS: dict[tuple[str, str], AdaptiveBatchSizer] = {}


@dataclass
class DeviceAssignment:
    """Picklable: the device a task runs on and the sizing policy."""

    name: str
    kind: str                       # 'cuda' or 'simulated'
    torch_device: str
    total_memory: int
    simulated: Optional[SimulatedDevice] = None
    min_batch_size: int = 1
    max_batch_size: int = 10000
    adaptive: bool = True
    safety: float = 0.8
    #: Learned sizer states by op signature (from the cache or earlier batches of this run).
    learned: dict[str, dict[str, Any]] = field(default_factory=dict)

    def placement(self) -> Placement:
        if self.simulated is not None:
            sim = self.simulated
            return Placement(name=self.name, torch_device="cpu", activate=sim.activate)
        return Placement(name=self.name, torch_device=self.torch_device,
                         activate=lambda _extra: _cuda_scope(self.torch_device),
                         empty_cache=_cuda_empty_cache)

    def free_bytes(self) -> int:
        if self.simulated is not None:
            return self.simulated.free_bytes
        import torch

        free, _total = torch.cuda.mem_get_info(self.torch_device)
        return int(free)

    def sizer(self, op: Op) -> AdaptiveBatchSizer:
        """The controller of ``op`` on this device, alive across this worker's batches."""
        key = (op.signature(), self.name)
        sizer = _SIZERS.get(key)
        if sizer is None:
            learned = self.learned.get(op.signature())
            if learned:
                state = SizerState(size=int(learned["size"]), ceiling=learned.get("ceiling"))
            else:
                size = initial_batch_size(op.batch_size, self.max_batch_size, op.batch_size,
                                          self.min_batch_size, self.free_bytes(), self.safety,
                                          op.bytes_per_row_estimate())
                state = SizerState(size=size)
            sizer = _SIZERS[key] = AdaptiveBatchSizer(state, self.min_batch_size,
                                                      self.max_batch_size, self.adaptive)
        if not self.adaptive:
            sizer.adaptive = False
        return sizer

    def stats(self) -> dict[str, Any]:
        """This worker's view: device counters and the sizers' learned states."""
        sizers = {sig: state_dict(s.state) for (sig, dev), s in _SIZERS.items() if dev == self.name}
        device = self.simulated.stats() if self.simulated is not None else _cuda_stats(self.torch_device)
        return {self.name: {"device": device, "sizers": sizers}}


@contextlib.contextmanager
def _cuda_scope(torch_device: str) -> Iterator[None]:
    import torch

    with torch.cuda.device(torch_device):
        yield


def _cuda_empty_cache() -> None:
    import torch

    torch.cuda.empty_cache()


def _cuda_stats(torch_device: str) -> dict[str, Any]:
    import torch

    return {"name": torch_device, "kind": "cuda",
            "used": int(torch.cuda.memory_allocated(torch_device)),
            "peak": int(torch.cuda.max_memory_allocated(torch_device))}
