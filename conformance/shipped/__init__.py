"""The shipped scenarios and profiles, as installed in a wheel (see pyproject.toml, package-dir)."""
