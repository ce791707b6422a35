"""SchemaValidator: jsonschema-rs says yes or no, jsonschema explains a no, and decides."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

from conformance.engine.schema_validator import SchemaValidator

ADDRESS = {"$id": "urn:test:address", "type": "object", "required": ["city"],
           "properties": {"city": {"type": "string", "pattern": "^[A-Z][a-z]+$"}}}
PERSON = {"$id": "urn:test:person", "type": "object", "required": ["name"],
          "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0},
                         "home": {"$ref": "urn:test:address"}}}


def _validator() -> SchemaValidator:
    return SchemaValidator(PERSON, [PERSON, ADDRESS])


def test_a_valid_instance_has_no_errors_also_through_a_reference():
    assert list(_validator().iter_errors({"name": "Ada", "age": 36, "home": {"city": "London"}})) == []
    assert _validator().is_valid({"name": "Ada"})


def test_an_invalid_instance_gets_jsonschemas_errors_with_their_paths():
    errors = sorted(_validator().iter_errors({"age": -1, "home": {"city": "london"}}), key=lambda e: e.json_path)
    assert [(e.json_path, e.validator) for e in errors] == [
        ("$", "required"), ("$.age", "minimum"), ("$.home.city", "pattern")]
    assert "'name' is a required property" in errors[0].message


def test_a_value_that_is_not_json_is_judged_by_jsonschema():
    # jsonschema-rs cannot take a date (YAML reads one from an unquoted 2024-01-01): no crash,
    # and jsonschema's verdict.
    errors = list(_validator().iter_errors({"name": dt.date(2024, 1, 1)}))
    assert [e.json_path for e in errors] == ["$.name"]
    assert not _validator().is_valid({1: "a key that is not a string"})


def test_where_the_two_differ_jsonschema_decides():
    # Python's `$` also matches before a final newline; jsonschema-rs's does not. jsonschema's
    # (more lenient) verdict is the one reported.
    assert _validator().is_valid({"name": "Ada", "home": {"city": "London\n"}})


def test_jsonschema_is_not_imported_while_everything_is_valid():
    code = ("import sys; from conformance.engine.schema_validator import SchemaValidator as V; "
            "v = V({'type': 'object', 'required': ['a']}); assert v.is_valid({'a': 1}); "
            "print('jsonschema' in sys.modules); assert not v.is_valid({}); print('jsonschema' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "True"]
