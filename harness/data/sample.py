"""The embedded sample dataset (built by ``harness/data/make_sample.py``, shipped as package data)."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

SAMPLE_NAME = "quickstart.jsonl.gz"


def sample_dataset_path(name: str = SAMPLE_NAME) -> Path:
    """Filesystem path of an embedded sample dataset (default: ``quickstart.jsonl.gz``).

    Rows are ``{"id", "text", "meta": {"source", "lang"}}``: ~3,000 mixed English and
    non-English texts with duplicates, near duplicates, e-mails, URLs and junk.
    """
    resource = resources.files("harness.data").joinpath("sample", name)
    if not resource.is_file():
        from harness.errors import InputError

        raise InputError(
            f"sample dataset {name!r} is missing from the installed package; rebuild it with "
            "`python -m harness.data.make_sample` or reinstall harness"
        )
    # Installed packages (regular or editable) live on the filesystem; a zipped install would
    # need resources.as_file, which hands out a temporary copy.
    return Path(str(resource))
