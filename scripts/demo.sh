#!/usr/bin/env bash
# `make demo`: kgrec on the embedded default store, no server needed. Loads the shared data set
# (or $KGREC_DATA; a small synthetic catalogue when neither is there), then prints the graph's
# statistics, a few sample products and a sample explanation path, trains the model (a short
# run: 10 epochs) printing its validation and test figures, then serves the bundle and asks the
# REST API for a known user's and a new user's (query) recommendations with their explanations.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv=$(bash scripts/venv.sh)
kgrec="$venv/bin/kgrec"
export KGREC_HOME=${KGREC_HOME:-$HOME/.local/share/kgrec} HF_HUB_OFFLINE=1
data=${KGREC_DATA:-../shared/data/amazon-industrial-scientific}
if [ ! -f "$data/products.jsonl" ]; then
    echo "kgrec demo: no data set at $data; generating a small synthetic catalogue instead (set KGREC_DATA to use yours)" >&2
    data="$KGREC_HOME/demo-synth"
    "$kgrec" synth --products 2000 "$data"
fi
echo "== kgrec load $data (embedded store in $KGREC_HOME/store)"
"$kgrec" load --replace "$data"
echo
echo "== kgrec stats --sample 3"
"$kgrec" stats --sample 3
echo
echo "== kgrec train --max-epochs 10 (R-GCN + hybrid ranker on the embedded store; bundle in $KGREC_HOME/bundles)"
"$kgrec" train --max-epochs 10
echo
port=$("$venv/bin/python" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
echo "== kgrec serve --bind 127.0.0.1:$port (gunicorn, 2 workers; stopped at the end of the demo)"
"$kgrec" serve --bind "127.0.0.1:$port" 2>"$KGREC_HOME/demo-serve.log" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT
"$venv/bin/python" scripts/demo_ask.py "http://127.0.0.1:$port" "$data"
echo "(the service's log: $KGREC_HOME/demo-serve.log; \`kgrec serve\` serves the bundle for good: API in /openapi.json, a page at /)"
