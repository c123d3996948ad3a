"""Imports every module that registers shipped ops (the registry loads this lazily)."""
from harness.ops import dedup, filters, mappers, minhash  # noqa: F401
