"""Marks the shipped scenarios as a package, so that `pytest --pyargs conformance.shipped.scenarios` finds them
in an installed wheel. Scenarios are YAML files; there is no Python here."""
