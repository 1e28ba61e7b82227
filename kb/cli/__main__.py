"""``python -m kb.cli`` (how ``kb serve`` starts its reindex child)."""

from kb.cli.main import main

main()
