"""The corpus holds broken `*.scenario.yaml` files on purpose: pytest must not collect them itself."""

collect_ignore = ["corpus"]
