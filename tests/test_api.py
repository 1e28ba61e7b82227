"""Guards: the public API stays what it is, and `import kb` stays light."""

import subprocess
import sys

import kb


def test_public_api_is_pinned():
    assert sorted(kb.__all__) == sorted([
        "Chunk", "ConfigError", "Document", "Hit", "IncompatibleIndex", "IndexLocked", "IndexNotFound",
        "IndexUnusable", "IngestReport", "KBError", "KnowledgeBase", "ModelError", "Section", "Settings",
        "SkippedFile", "UnreadableFile",
    ])
    for name in kb.__all__:
        assert getattr(kb, name).__name__ == name


def test_import_kb_loads_no_heavy_library():
    code = ("import sys, kb, kb.cli; kb.KnowledgeBase; "
            "heavy = [m for m in ('torch', 'faiss', 'streamlit', 'sentence_transformers', 'transformers', 'bm25s') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
