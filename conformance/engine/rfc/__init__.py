"""JSON Schemas (draft 2020-12) of the SCIM 2.0 messages, and a validator for them.

Each ``*.json`` file beside this module describes one message a SCIM server sends
(or, for ``PatchOp``, one the identity provider sends) as RFC 7643 and RFC 7644
define it: strict on the RFCs' MUSTs, lenient on everything else, so extension
attributes and unknown keys never fail, and an OPTIONAL attribute may be null
(RFC 7643 §2.5 makes null the same state as unassigned). A schema's ``$id`` is
``urn:scim-conformance:rfc:<Name>`` and its ``description`` cites the RFC section.
Where jsonschema's own wording would hide the rule, a subschema carries an
``errorMessage`` annotation (keyword -> text, as ajv-errors spells it) that
:func:`validate` reports instead.

    >>> answer = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
    ...           "totalResults": "0"}
    >>> validate("ListResponse", answer)
    ["at $.totalResults: '0' is not of type 'integer'"]

Files are read through :mod:`importlib.resources`, so this works from a wheel.
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import TYPE_CHECKING, Any

from conformance.engine.schema_validator import SchemaValidator

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

__all__ = ["ID_PREFIX", "load_schema", "schema_names", "validate"]

ID_PREFIX = "urn:scim-conformance:rfc:"
"""What every shipped schema's ``$id`` starts with; the schema's name follows."""

_SUFFIX = ".json"
_MAX_SHOWN = 80


def schema_names() -> list[str]:
    """The names of the shipped schemas (file names without ``.json``), sorted."""
    return sorted(_schemas())


def load_schema(name: str) -> dict[str, Any]:
    """A fresh copy of the schema called ``name`` (e.g. ``"User"``).

    Raises KeyError, naming the known schemas, when there is no such schema.
    """
    return copy.deepcopy(_schema(name))


def validate(name: str, instance: object) -> list[str]:
    """What is wrong with ``instance`` as the message ``name``; empty when it is valid.

    Each problem reads ``"at <JSON path>: <message>"``, e.g.
    ``"at $.Operations[0]: 'path' is a required property"``. Formats such as
    ``date-time`` are annotations only and are not asserted.
    """
    validator = _validator(name)
    errors = sorted(validator.iter_errors(instance), key=_sort_key)
    return [f"at {error.json_path}: {_message(error)}" for error in errors]


@functools.cache
def _schemas() -> dict[str, dict[str, Any]]:
    folder = resources.files(__name__)
    found: dict[str, dict[str, Any]] = {}
    for entry in folder.iterdir():
        if entry.is_file() and entry.name.endswith(_SUFFIX):
            found[entry.name[: -len(_SUFFIX)]] = json.loads(entry.read_text(encoding="utf-8"))
    return found


def _schema(name: str) -> dict[str, Any]:
    schemas = _schemas()
    if name not in schemas:
        known = ", ".join(sorted(schemas))
        raise KeyError(f"no RFC schema called {name!r}; known schemas: {known}")
    return schemas[name]


@functools.cache
def _validator(name: str) -> SchemaValidator:
    return SchemaValidator(_schema(name), list(_schemas().values()))


def _sort_key(error: ValidationError) -> tuple[str, str]:
    return (error.json_path, error.message)


def _message(error: ValidationError) -> str:
    """The schema's own ``errorMessage`` for the failed keyword, else jsonschema's."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    custom = schema.get("errorMessage")
    if isinstance(custom, dict):
        custom = custom.get(str(error.validator))
    if isinstance(custom, str):
        return f"{custom} (got {_shown(error.instance)})"
    expected = error.validator_value
    if error.validator == "contains" and isinstance(expected, dict) and "const" in expected:
        return f"{_shown(error.instance)} does not contain {json.dumps(expected['const'])}"
    return error.message


def _shown(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."
