"""Safe YAML loading that remembers where everything came from.

PyYAML's SafeLoader constructs no objects, but it forgets line numbers, silently keeps
the last of two duplicate keys, and turns ``0.1`` into a double before we can round the
*decimal* into float16. This loader fixes all three: mappings and sequences carry the
line of each entry, duplicate keys are errors, and every float keeps its source text.

It also keeps the resource limits of ``data/limits.yaml`` that YAML itself can break:
the file's size, nesting depth (PyYAML recurses), aliases (a "billion laughs" bomb is 70
lines), the length of numeric literals, and YAML 1.1's base-60 numbers (``190:20:30.15``),
which no one means in a case file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .limits import limits


class YamlError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


class Literal(float):
    """A YAML float that remembers its text, so ``0.1`` can be rounded exactly per dtype."""

    text: str

    def __new__(cls, text: str) -> Literal:
        lowered = text.lower().replace("_", "")
        number = {".inf": "inf", "+.inf": "inf", "-.inf": "-inf", ".nan": "nan"}.get(lowered, lowered)
        instance = super().__new__(cls, number)
        instance.text = number
        return instance


class Located(dict[str, Any]):
    """A mapping with the line of itself and of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class LocatedList(list[Any]):
    line: int = 0
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    """SafeLoader with a bounded nesting depth and a bounded number of aliases."""

    depth = 0
    aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        line = self.peek_event().start_mark.line + 1  # type: ignore[no-untyped-call]
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > limits().aliases:
                raise YamlError(line, "YAML aliases (*name) are not allowed in case files: write the value out")
        self.depth += 1
        try:
            if self.depth > limits().nesting_depth:
                raise YamlError(
                    line, f"nesting deeper than {limits().nesting_depth} (nesting_depth in data/limits.yaml)"
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _mapping(loader: _Loader, node: yaml.MappingNode) -> Located:
    result = Located()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        if key in result:
            raise YamlError(key_node.start_mark.line + 1, f"duplicate key {key!r}")
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LocatedList:
    result = LocatedList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


def _number_text(node: yaml.ScalarNode) -> str:
    text = str(node.value)
    line = node.start_mark.line + 1
    if ":" in text:
        raise YamlError(line, f"{text!r} is a YAML 1.1 base-60 number: quote it if it is text")
    if len(text) > limits().number_chars:
        raise YamlError(
            line, f"a number of {len(text):,} characters (the limit is {limits().number_chars:,}: number_chars)"
        )
    return text


def _float(loader: _Loader, node: yaml.ScalarNode) -> Literal:
    return Literal(_number_text(node))


def _int(loader: _Loader, node: yaml.ScalarNode) -> int:
    _number_text(node)
    return int(loader.construct_yaml_int(node))


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)
_Loader.add_constructor("tag:yaml.org,2002:float", _float)
_Loader.add_constructor("tag:yaml.org,2002:int", _int)


def _decode(data: bytes) -> str:
    """The file's text; invalid UTF-8 is an error on the line of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise YamlError(line, f"not UTF-8: byte {data[error.start]:#04x} at offset {error.start}") from None


def load(path: Path) -> Any:
    """Parse one YAML file; raises :class:`YamlError` with a line for anything malformed."""
    size = path.stat().st_size
    if size > limits().file_bytes:
        raise YamlError(1, f"a file of {size:,} bytes (the limit is {limits().file_bytes:,}: file_bytes)")
    with path.open("rb") as stream:
        text = _decode(stream.read(limits().file_bytes + 1))
    try:
        return yaml.load(text, Loader=_Loader)
    except YamlError:
        raise
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 0
        hint = ""
        if "mapping values are not allowed" in str(error.problem):
            hint = " (a ': ' inside a plain value: quote the value or write it as a '>-' block)"
        raise YamlError(line, f"not valid YAML: {error.problem or error}{hint}") from None
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        raise YamlError(
            line, f"not valid YAML: character {error.character!r} is not allowed (a control character)"
        ) from None
    except yaml.YAMLError as error:
        raise YamlError(1, f"not valid YAML: {error}") from None


def line_of(document: Any, path: list[str | int]) -> int:
    """The line of the deepest located node on ``path`` inside ``document``."""
    line = getattr(document, "line", 0)
    node = document
    for step in path:
        if isinstance(node, Located) and isinstance(step, str) and step in node:
            line = node.key_lines.get(step, line)
            node = node[step]
        elif isinstance(node, LocatedList) and isinstance(step, int) and 0 <= step < len(node):
            line = node.item_lines[step]
            node = node[step]
        else:
            break
    return line
