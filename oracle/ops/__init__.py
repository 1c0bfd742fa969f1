"""The canonical ops: one module per family, each defining ``DEFINITIONS``.

The registry is discovered, not listed: every module of this package that defines
``DEFINITIONS`` (a tuple of :class:`~oracle.ops.spec.OpDefinition`) contributes its ops, and
so does every entry point of the ``loss_conformance.ops`` group (a third party's ops).
Adding a loss therefore touches no file here.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import pkgutil
from collections.abc import Iterator
from importlib.metadata import entry_points

from .spec import (
    Enclosures,
    Input,
    InputKind,
    InvalidInput,
    OpDefinition,
    Param,
    ParamKind,
    Setting,
)

ENTRY_POINT_GROUP = "loss_conformance.ops"

_extra: dict[str, OpDefinition] = {}


@functools.cache
def _discovered() -> dict[str, OpDefinition]:
    found: dict[str, OpDefinition] = {}
    modules = [importlib.import_module(f"{__name__}.{m.name}") for m in pkgutil.iter_modules(__path__)]
    provided = [getattr(module, "DEFINITIONS", ()) for module in modules]
    provided += [point.load() for point in entry_points(group=ENTRY_POINT_GROUP)]
    for definitions in provided:
        for definition in (definitions,) if isinstance(definitions, OpDefinition) else definitions:
            if definition.name in found:
                raise ValueError(f"op {definition.name!r} is defined twice")
            found[definition.name] = definition
    return found


def definitions() -> dict[str, OpDefinition]:
    """Every op, by name, in a stable order (the losses' families first, as discovered)."""
    return {**_discovered(), **_extra}


def definition(name: str) -> OpDefinition:
    table = definitions()
    if name not in table:
        raise InvalidInput(f"unknown op {name!r}; known: {', '.join(sorted(table))}")
    return table[name]


def names() -> list[str]:
    return sorted(definitions())


def known_settings() -> dict[str, Setting]:
    """Every setting some op reads: the vocabulary of ``variants.yaml``."""
    return {s.name: s for d in definitions().values() for s in d.settings}


@contextlib.contextmanager
def registered(*extra: OpDefinition) -> Iterator[None]:
    """Add ops for the duration of a block (an application's own ops, or a test's toy op)."""
    clashes = [d.name for d in extra if d.name in definitions()]
    if clashes:
        raise ValueError(f"ops already defined: {', '.join(clashes)}")
    for d in extra:
        _extra[d.name] = d
    try:
        yield
    finally:
        for d in extra:
            _extra.pop(d.name, None)


__all__ = [
    "Enclosures",
    "Input",
    "InputKind",
    "InvalidInput",
    "OpDefinition",
    "Param",
    "ParamKind",
    "Setting",
    "definition",
    "definitions",
    "known_settings",
    "names",
    "registered",
]
