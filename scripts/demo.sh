#!/usr/bin/env bash
# `make demo`: kgrec on the embedded default store, no server needed. Loads the shared data set
# (or $KGREC_DATA; a small synthetic catalogue when neither is there), then prints the graph's
# statistics, a few sample products and a sample explanation path, and trains the model (a short
# run: 10 epochs) printing its validation and test figures.
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
