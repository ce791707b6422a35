"""JSON Schema (draft 2020-12) validation: a fast yes/no first, jsonschema's explanation when no.

Every run validates each scenario file when it is collected and most answers the target sends
(RFC 7643/7644 message schemas): about 500 validations for the shipped suite. Nearly all of them
pass. jsonschema-rs (Rust) answers "valid?" in microseconds; the Python jsonschema package,
whose errors carry the paths, keywords and wording our reports are built on, is asked only when
the answer is no, and imported only then. Its verdict is the one that counts: if it finds no
error in an instance jsonschema-rs refused, the instance is valid. An instance jsonschema-rs
cannot take (a value that is not JSON, such as a date YAML read) goes to jsonschema directly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import jsonschema_rs

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

__all__ = ["SchemaValidator"]


class SchemaValidator:
    """Validates instances against `schema`; `resources` are other schemas it refers to by `$id`."""

    def __init__(self, schema: dict[str, Any], resources: Sequence[dict[str, Any]] = ()) -> None:
        self.schema = schema
        self._resources = list(resources)
        registry = jsonschema_rs.Registry([(r["$id"], r) for r in self._resources]) if self._resources else None
        # Formats are annotations only, as for jsonschema without a format checker.
        self._fast = jsonschema_rs.validator_for(schema, registry=registry, validate_formats=False)
        self._full: Draft202012Validator | None = None

    def is_valid(self, instance: Any) -> bool:
        """True when `instance` is valid."""
        return next(self.iter_errors(instance), None) is None

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]:
        """jsonschema's errors for `instance`; none when it is valid."""
        try:
            if self._fast.is_valid(instance):
                return iter(())
        except (ValueError, TypeError, OverflowError):
            pass  # not a JSON value jsonschema-rs can take: jsonschema decides
        return self._explainer().iter_errors(instance)

    def _explainer(self) -> Draft202012Validator:
        if self._full is None:
            from jsonschema import Draft202012Validator
            from referencing import Registry, Resource
            from referencing.jsonschema import DRAFT202012

            registry: Registry[Any] = Registry().with_resources(
                (r["$id"], Resource.from_contents(r, default_specification=DRAFT202012)) for r in self._resources)
            self._full = Draft202012Validator(self.schema, registry=registry.crawl())
        return self._full
