"""JSON Schema validation of scenario, shared-step and profile files, reported as `path:line`."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from conformance.engine.errors import Problem
from conformance.engine.references import reference_problems
from conformance.engine.scenario.yamlsrc import YamlDocument
from conformance.engine.schema_validator import SchemaValidator

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

__all__ = ["SCHEMA_FILES", "schema_problems", "validator"]

SCHEMA_FILES = {
    "scenario": "scenario.schema.json",
    "steps": "steps.schema.json",
    "idp": "idp.schema.json",
    "target": "target.schema.json",
}


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    return {kind: json.loads(resources.files(__package__).joinpath(filename).read_text("utf-8"))
            for kind, filename in SCHEMA_FILES.items()}


@cache
def validator(kind: str) -> SchemaValidator:
    """The validator for one kind of file: scenario, steps, idp or target."""
    schemas = _schemas()
    return SchemaValidator(schemas[kind], list(schemas.values()))


def _unknown_keys(error: ValidationError) -> list[str]:
    return sorted(set(error.instance) - set(error.schema.get("properties", {})))


def _located(error: ValidationError) -> list[tuple[tuple[str | int, ...], str]]:
    """(pointer, message) pairs for one error; an unknown-keys error gives one pair per key."""
    path = tuple(error.absolute_path)
    where = "/".join(str(p) for p in path)
    prefix = f"{where}: " if where else ""
    if error.validator == "additionalProperties" and error.schema.get("additionalProperties") is False:
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        hint = f" (allowed: {allowed})" if allowed else ""
        return [((*path, key), f"unknown key {key!r}{hint}") for key in _unknown_keys(error)]
    if error.validator == "anyOf" and all(set(branch) == {"required"} for branch in error.validator_value):
        options = " or ".join(" and ".join(repr(k) for k in branch["required"]) for branch in error.validator_value)
        return [(path, f"{prefix}needs {options}")]
    return [(path, prefix + error.message)]


def _deepest(error: ValidationError) -> ValidationError:
    """The sub-error that explains a oneOf failure ("not valid under any of the given schemas").

    A step is a request step or a `use:` step; the branch to explain is the one the author
    meant, told apart by the `use` key, not whichever branch's error looks deepest.
    """
    from jsonschema.exceptions import best_match  # only ever needed for an invalid file

    while error.context and error.validator == "oneOf":
        branches = error.validator_value
        meant = None
        if isinstance(error.instance, dict):
            for index, branch in enumerate(branches):
                ref = str(branch.get("$ref", ""))
                if ref.endswith("useStep") == ("use" in error.instance):
                    meant = index
                    break
        context = [e for e in error.context if meant is None or e.relative_schema_path[0] == meant]
        error = best_match(context or error.context)
    return error


def schema_problems(document: YamlDocument, kind: str) -> list[Problem]:
    """Every schema problem of `document`, sorted by line; once its shape is right, its unknown reference ids."""
    problems = [
        document.source.problem(pointer, message)
        for error in validator(kind).iter_errors(document.data)
        for pointer, message in _located(_deepest(error))
    ]
    if not problems:
        problems = reference_problems(document.data, document.source)
    return sorted(problems, key=lambda p: p.line)
