"""The engine: scenario model and loader, templating, runner, transport, checks, ledger, redaction.

It knows nothing about pytest or reports: the pytest plugin and the commands drive it.
"""
