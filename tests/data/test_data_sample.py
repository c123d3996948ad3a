"""The embedded sample dataset: present, loadable, varied, and reproducible from its generator."""
from __future__ import annotations

import collections
import re

from harness.data import ROW_ID, read_dataset, sample_dataset_path
from harness.data import make_sample

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
URL = re.compile(r"https?://\S+")


def load():
    rows, bad = [], []
    for chunk in read_dataset(sample_dataset_path(), batch_size=500):
        cols = list(chunk.batch)
        rows.extend(dict(zip(cols, v)) for v in zip(*(chunk.batch[c] for c in cols)))
        bad.extend(chunk.bad_rows)
    return rows, bad


def test_sample_dataset_loads_and_is_varied():
    path = sample_dataset_path()
    assert path.name == "quickstart.jsonl.gz" and path.stat().st_size < 1_000_000
    rows, bad = load()
    assert bad == []
    assert len(rows) >= 2000
    assert [r["id"] for r in rows] == [r[ROW_ID] for r in rows] == list(range(len(rows)))
    texts = [r["text"] for r in rows]
    counts = collections.Counter(texts)
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    assert duplicates >= 0.04 * len(rows)
    assert sum(bool(EMAIL.search(t)) for t in texts) >= 0.03 * len(rows)
    assert sum(bool(URL.search(t)) for t in texts) >= 0.03 * len(rows)
    langs = collections.Counter(r["meta"]["lang"] for r in rows)
    assert {"en", "de", "fr", "es", "zh", "ja", "ru"} <= set(langs)
    assert sum(n for lang, n in langs.items() if lang not in ("en", "unknown")) >= 0.05 * len(rows)
    assert any(re.search(r"[\u4e00-\u9fff]", t) for t in texts)
    assert any(re.search(r"[\u0400-\u04ff]", t) for t in texts)
    assert any("\u00a0" in t or "\u200b" in t or "\t" in t for t in texts)
    assert any("“" in t for t in texts) and any("。" in t for t in texts)
    assert sum(len(t) < 15 for t in texts) >= 0.02 * len(rows)  # junk
    assert all(set(r["meta"]) == {"source", "lang"} for r in rows)


def test_sample_has_near_duplicates():
    rows, _ = load()
    by_len_prefix = collections.defaultdict(set)
    for r in rows:
        words = r["text"].split(" ")
        if len(words) >= 8 and r["meta"]["lang"] == "en":
            by_len_prefix[(len(words), tuple(words[:2]))].add(r["text"])
    near = 0
    for group in by_len_prefix.values():
        group = sorted(group)
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if sum(x != y for x, y in zip(a.split(" "), b.split(" "))) == 1:
                    near += 1
    assert near >= 50


def test_sample_file_matches_its_generator(tmp_path):
    out = make_sample.write(tmp_path / "again.jsonl.gz")
    assert out.read_bytes() == sample_dataset_path().read_bytes(), (
        "the shipped sample is stale: run `python -m harness.data.make_sample`"
    )
