#!/usr/bin/env bash
# Install, index the bundled sample documents, and show a search over them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
KB="${KB_VENV:-.venv}/bin/kb"
INDEX="${KB_INDEX_DIR:-indexes/sample}"
"$KB" ingest sample_docs --index "$INDEX"
"$KB" status --index "$INDEX"
echo
echo 'Example search: "how many days of annual leave do I get"'
"$KB" search "how many days of annual leave do I get" --index "$INDEX" -k 3
