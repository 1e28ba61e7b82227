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


HEAVY = ("torch", "faiss", "streamlit", "sentence_transformers", "transformers", "bm25s", "Stemmer", "tokenizers",
         "docx", "lxml", "pypdfium2", "pypdf", "argon2", "watchdog", "croniter")


def test_import_kb_loads_no_heavy_library():
    # the facade, its stages and the command line load models, parsers and servers on first use only
    code = ("import sys, kb, kb.cli; kb.KnowledgeBase; kb.Settings; "
            f"heavy = [m for m in {HEAVY!r} if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
