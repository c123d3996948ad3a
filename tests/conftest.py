"""Shared test set-up: hypothesis profiles and the pytester fixture (for the suite plugin's tests).

Profiles: ``ci`` (derandomized, so CI is reproducible; no deadline, since worker processes and
first-call imports make timings noisy; about 50 examples) and ``dev`` (more examples, random).
``ci`` is loaded when the CI environment variable is set, else ``dev``, unless HYPOTHESIS_PROFILE
names a profile. Tests that pass their own ``@settings(max_examples=...)`` keep their count.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ["pytester"]

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=50,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    deadline=None,
    max_examples=100,
    print_blob=True,
)


def _profile() -> str:
    if os.environ.get("HYPOTHESIS_PROFILE"):
        return os.environ["HYPOTHESIS_PROFILE"]
    return "ci" if os.environ.get("CI") else "dev"


settings.load_profile(_profile())
