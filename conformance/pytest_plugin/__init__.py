"""The pytest plugin: collects `*.scenario.yaml` files as items and runs them with the engine."""
