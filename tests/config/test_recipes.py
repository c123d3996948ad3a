"""Every shipped recipe composes and resolves; Data-Juicer recipe files load unchanged."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from harness.app import prepare
from harness.config.compose import compose_config
from harness.config.recipe import resolve_recipe
from harness.errors import ConfigError, UnknownOpError


def _shipped() -> list[str]:
    folder = resources.files("harness").joinpath("conf/recipe")
    return sorted(e.name[:-5] for e in folder.iterdir()
                  if e.name.endswith(".yaml") and e.name != "schema.yaml")


def _dj_recipe(tmp_path: Path, body: str, name: str = "recipe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


DJ_RECIPE = """\
project_name: 'tiny'
dataset_path: 'data/in.jsonl'
export_path: 'out/result.jsonl'
np: 3
text_keys: 'text'
use_cache: true
op_fusion: false
process:
  - whitespace_normalization_mapper:
  - text_length_filter: {min_len: 5, max_len: 100}
  - document_deduplicator: {lowercase: false}
"""


def test_the_expected_recipes_ship() -> None:
    assert {"quickstart", "dj", "web_text", "dedup", "bench"} <= set(_shipped())


@pytest.mark.parametrize("name", [n for n in _shipped() if n != "dj"])
def test_shipped_recipe_composes_and_resolves(name: str) -> None:
    cfg = compose_config(name)
    recipe, executor, _, _ = prepare(cfg, name, Path.cwd())
    assert recipe.ops, f"recipe {name} has no ops"
    assert recipe.dataset_path is None  # the embedded sample by default
    assert recipe.ignored_keys == []


def test_dj_recipe_composes_and_resolves_a_file(tmp_path: Path) -> None:
    recipe_file = _dj_recipe(tmp_path, DJ_RECIPE)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "in.jsonl").write_text('{"text": "hello world"}\n', encoding="utf-8")
    cfg = compose_config("dj", [f"recipe.path={recipe_file}"])
    recipe, executor, _, _ = prepare(cfg, "dj", tmp_path)
    assert [op.name for op in recipe.ops] == [
        "whitespace_normalization_mapper", "text_length_filter", "document_deduplicator"]
    assert recipe.name == "tiny"
    assert executor.workers == 3  # np sets the worker count


def test_dj_recipe_without_path_says_what_to_pass() -> None:
    cfg = compose_config("dj")
    with pytest.raises(ConfigError, match=r"recipe 'dj' needs recipe\.path=FILE"):
        prepare(cfg, "dj", Path.cwd())


def test_dj_relative_paths_resolve_against_base_dir(tmp_path: Path) -> None:
    recipe_file = _dj_recipe(tmp_path, DJ_RECIPE)
    base = tmp_path / "elsewhere"
    resolved = resolve_recipe({"path": str(recipe_file)}, "dj", base)
    assert resolved.dataset_path == base / "data" / "in.jsonl"
    assert resolved.export_path == base / "out" / "result.jsonl"
    assert resolved.np == 3
    assert resolved.text_keys == ["text"]


def test_command_line_keys_override_the_file(tmp_path: Path) -> None:
    recipe_file = _dj_recipe(tmp_path, DJ_RECIPE)
    resolved = resolve_recipe({"path": str(recipe_file), "dataset_path": "/abs/data.jsonl",
                               "export_path": "", "process": []}, "dj", tmp_path)
    assert resolved.dataset_path == Path("/abs/data.jsonl")
    assert resolved.export_path == tmp_path / "out" / "result.jsonl"
    assert len(resolved.ops) == 3


def test_unknown_dj_keys_are_collected(tmp_path: Path) -> None:
    recipe_file = _dj_recipe(tmp_path, DJ_RECIPE)
    resolved = resolve_recipe({"path": str(recipe_file)}, "dj", tmp_path)
    assert resolved.ignored_keys == ["op_fusion", "use_cache"]


def test_unsupported_op_lists_close_matches(tmp_path: Path) -> None:
    recipe_file = _dj_recipe(tmp_path, DJ_RECIPE.replace(
        "whitespace_normalization_mapper", "whitespace_normalisation_mapper"))
    with pytest.raises(UnknownOpError) as caught:
        resolve_recipe({"path": str(recipe_file)}, "dj", tmp_path)
    message = str(caught.value)
    assert "whitespace_normalisation_mapper" in message
    assert "Did you mean whitespace_normalization_mapper" in message
    assert "text_length_filter" in message  # the supported ops are listed


def test_tokenization_true_is_a_clear_error(tmp_path: Path) -> None:
    recipe_file = _dj_recipe(tmp_path, DJ_RECIPE.replace(
        "  - document_deduplicator: {lowercase: false}\n",
        "  - words_num_filter: {lang: en, tokenization: true, min_num: 5}\n"))
    with pytest.raises(ConfigError, match=r"words_num_filter.*tokenization"):
        resolve_recipe({"path": str(recipe_file)}, "dj", tmp_path)


def test_missing_recipe_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_recipe({"path": str(tmp_path / "nope.yaml")}, "dj", tmp_path)
