"""YAML loading that remembers where every value came from, so errors name file and line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Location = tuple[str | int, ...]


class PhrasebookError(Exception):
    """A phrasebook file is broken: the message is `file:line: reason`."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML file plus the 1-based line of every mapping key and sequence item."""

    path: Path
    data: Any
    lines: dict[Location, int]

    def line_of(self, location: Sequence[str | int]) -> int | None:
        """The line of the deepest known node on `location` (a key/index path)."""
        loc = tuple(location)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return 1

    def error(self, location: Sequence[str | int], reason: str) -> PhrasebookError:
        """A PhrasebookError pointing at `location` in this file."""
        return PhrasebookError(self.path, self.line_of(location), reason)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first on line {seen[key]})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


_FastLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _record_lines(node: yaml.Node, location: Location, lines: dict[Location, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*location, str(key_node.value))
            lines[child] = key_node.start_mark.line + 1
            _record_lines(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*location, index)
            lines[child] = item.start_mark.line + 1
            _record_lines(item, child, lines)


def load_yaml(path: Path) -> YamlDocument:
    """Parse one YAML file; syntax errors and duplicate keys raise PhrasebookError with the line."""
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PhrasebookError(path, None, f"cannot read: {exc}") from None
    try:
        # Parse once (with libyaml when available); build values from the same node tree.
        node = yaml.compose(source, Loader=_FastLoader)
        data = _UniqueKeyLoader("").construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = " ".join(part for part in (exc.context, exc.problem) if part) or str(exc)
        raise PhrasebookError(path, line, f"invalid YAML: {reason}") from None
    except yaml.YAMLError as exc:
        raise PhrasebookError(path, None, f"invalid YAML: {exc}") from None
    lines: dict[Location, int] = {}
    if node is not None:
        _record_lines(node, (), lines)
    return YamlDocument(path=path, data=data, lines=lines)


def validation_error(document: YamlDocument, exc: Any) -> PhrasebookError:
    """Turn the first error of a pydantic ValidationError into a PhrasebookError with its line."""
    first = exc.errors()[0]
    location = [part for part in first["loc"] if isinstance(part, str | int)]
    where = ".".join(str(part) for part in location) or "document"
    return document.error(location, f"{where}: {first['msg']}")
