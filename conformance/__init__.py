"""scim-conformance: plays the identity provider against a SCIM 2.0 server."""

__version__ = "0.1.0"
__all__ = ["__version__"]
