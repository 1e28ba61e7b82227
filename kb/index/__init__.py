"""The index on disk: a folder of immutable versions, each a manifest, a chunk table, FAISS and BM25 files."""
