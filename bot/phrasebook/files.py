"""Shared by the phrasebook's file loaders: required files, parse-and-validate, language checks."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from bot.core.types import Language
from bot.phrasebook.yamlfile import PhrasebookError, YamlDocument, load_yaml, validation_error

LANGUAGES = tuple(Language)

Model = TypeVar("Model", bound=BaseModel)


def parse_file(path: Path, model: type[Model]) -> tuple[YamlDocument, Model]:
    """The YAML document at `path` and its data validated by `model` (errors name the line)."""
    document = load_yaml(path)
    if not isinstance(document.data, dict):
        raise PhrasebookError(path, 1, "expected a mapping at the top of the file")
    try:
        return document, model.model_validate(document.data)
    except ValidationError as exc:
        raise validation_error(document, exc) from None


def require_file(directory: Path, relative: str) -> Path:
    """`directory/relative`, which must be a file."""
    path = directory / relative
    if not path.is_file():
        raise PhrasebookError(path, None, "file is missing")
    return path


def language_file(directory: Path, folder: str, language: Language) -> Path:
    """`directory/folder/<language>.yaml`, which must exist."""
    return require_file(directory, f"{folder}/{language.value}.yaml")


def check_language(document: YamlDocument, declared: Language, expected: Language) -> None:
    """A file's `language:` must match its name."""
    if declared is not expected:
        raise document.error(
            ("language",), f"says {declared.value!r} but the file is for {expected.value!r}"
        )
