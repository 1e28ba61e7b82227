"""Keeping the index in step with the documents folder: watcher, nightly reindex, service, uploads."""
