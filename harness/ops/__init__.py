"""Ops: base classes, the registry, and the Data-Juicer-compatible text ops."""
from harness.ops.base import Deduplicator, DedupIndex, Filter, Mapper, Op
from harness.ops.registry import build_op, get_op_class, register_op, registered_ops

__all__ = [
    "Op", "Mapper", "Filter", "Deduplicator", "DedupIndex",
    "register_op", "get_op_class", "build_op", "registered_ops",
]
