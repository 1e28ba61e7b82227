"""The ``kb`` command line: one module per command group, shared helpers in ``common``."""

from kb.cli.main import main

__all__ = ["main"]
