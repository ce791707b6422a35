"""Hostile targets: servers that hang, lie, flood or redirect; and cleanup of a killed run's leftovers."""
