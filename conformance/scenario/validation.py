"""JSON Schema validation of scenario, shared-step and profile files, reported as `path:line`."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

from conformance.errors import Problem
from conformance.scenario.yamlsrc import YamlDocument

__all__ = ["SCHEMA_FILES", "schema_problems", "validator"]

SCHEMA_FILES = {
    "scenario": "scenario.schema.json",
    "steps": "steps.schema.json",
    "idp": "idp.schema.json",
    "target": "target.schema.json",
}


@cache
def _registry() -> Registry:
    registry = Registry()
    for filename in SCHEMA_FILES.values():
        schema = json.loads(resources.files(__package__).joinpath(filename).read_text("utf-8"))
        registry = registry.with_resource(schema["$id"], Resource.from_contents(schema))
    return registry


@cache
def validator(kind: str) -> Draft202012Validator:
    """The validator for one kind of file: scenario, steps, idp or target."""
    schema = json.loads(resources.files(__package__).joinpath(SCHEMA_FILES[kind]).read_text("utf-8"))
    return Draft202012Validator(schema, registry=_registry())


def _message(error: ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        return f"unknown key {extra[0]!r}" + (f" (allowed: {allowed})" if allowed else "")
    prefix = f"{where}: " if where else ""
    return prefix + error.message


def _pointer_of(error: ValidationError) -> tuple[str | int, ...]:
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        if extra:
            return (*path, extra[0])
    return path


def _deepest(error: ValidationError) -> ValidationError:
    # oneOf/anyOf failures ("is not valid under any of the given schemas") hide the useful
    # reason; descend to the most relevant sub-error, which also carries the deeper path.
    while error.context:
        error = best_match(error.context)
    return error


def schema_problems(document: YamlDocument, kind: str) -> list[Problem]:
    """Every schema problem of `document`, sorted by line."""
    errors = [_deepest(e) for e in validator(kind).iter_errors(document.data)]
    problems = [document.source.problem(_pointer_of(e), _message(e)) for e in errors]
    return sorted(problems, key=lambda p: p.line)
