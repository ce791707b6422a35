"""Broken scenario, shared-step and profile files: each must give one clear `path:line: message`."""
