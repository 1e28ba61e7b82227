#!/usr/bin/env bash
# Install, index the bundled sample documents, and open the web app on them at http://localhost:8501.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
VENV="${KB_VENV:-.venv}"
export KB_DOCS_DIR="${KB_DOCS_DIR:-sample_docs}" KB_INDEX_DIR="${KB_INDEX_DIR:-indexes/sample}"
"$VENV/bin/kb" ingest "$KB_DOCS_DIR" --index "$KB_INDEX_DIR"
"$VENV/bin/kb" status --index "$KB_INDEX_DIR"
echo
echo "Opening the web app on $KB_DOCS_DIR: http://localhost:8501  (Ctrl+C stops it)"
echo "Its users: $VENV/bin/kb users list --index $KB_INDEX_DIR"
exec "$VENV/bin/python" -m streamlit run ui/server.py --server.port 8501 --server.headless true \
  --browser.gatherUsageStats false --client.toolbarMode viewer
