"""The management commands of the app, one a module (docs/operations.md)."""
