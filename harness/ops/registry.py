"""Name -> op class. Refuses duplicate names so two ops can never shadow each other."""
from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from harness.errors import ConfigError, UnknownOpError

if TYPE_CHECKING:
    from harness.ops.base import Op

OpClass = TypeVar("OpClass", bound=type)

_REGISTRY: dict[str, type["Op"]] = {}


def register_op(name: str) -> Callable[[OpClass], OpClass]:
    """Class decorator: make the op available to recipes under ``name``."""

    def decorate(cls: OpClass) -> OpClass:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(
                f"op name {name!r} is already registered by {_REGISTRY[name].__module__}."
                f"{_REGISTRY[name].__qualname__}; pick another name for {cls.__qualname__}"
            )
        cls.name = name  # type: ignore[attr-defined]
        _REGISTRY[name] = cls  # type: ignore[assignment]
        return cls

    return decorate


def _ensure_builtin_ops_loaded() -> None:
    import harness.ops.builtin  # noqa: F401  (registers every shipped op)


def registered_ops() -> list[str]:
    """Sorted names of every registered op."""
    _ensure_builtin_ops_loaded()
    return sorted(_REGISTRY)


def get_op_class(name: str) -> type["Op"]:
    """The class registered under ``name``; an unknown name raises with close matches."""
    _ensure_builtin_ops_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownOpError(
            f"unknown op {name!r}.{hint} Supported ops: {', '.join(sorted(_REGISTRY))}."
        ) from None


def parse_op_entry(entry: Any) -> tuple[str, dict[str, Any]]:
    """A recipe entry ``{name: {params}}`` (params may be None) as ``(name, params)``."""
    if isinstance(entry, str):
        return entry, {}
    if isinstance(entry, dict) and len(entry) == 1:
        (name, params), = entry.items()
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise ConfigError(
                f"op {name!r}: parameters must be a mapping such as {{min_len: 10}}, got {params!r}"
            )
        return str(name), dict(params)
    raise ConfigError(
        f"a process entry must be a one-key mapping like {{text_length_filter: {{min_len: 10}}}}, "
        f"got {entry!r}"
    )


def build_op(entry: Any) -> "Op":
    """An op instance from a recipe entry (or the instance itself)."""
    from harness.ops.base import Op

    if isinstance(entry, Op):
        return entry
    name, params = parse_op_entry(entry)
    return get_op_class(name)(**params)
