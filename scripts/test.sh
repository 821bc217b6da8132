#!/usr/bin/env bash
# `make test`: the whole test suite, Neo4j and browser tests included and required (they fail, not skip,
# when no server or Chromium can be started). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv=$(bash scripts/venv.sh)
bash scripts/ensure-system.sh
export KGREC_REQUIRE_NEO4J=1 KGREC_REQUIRE_BROWSER=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec "$venv/bin/python" -m pytest "$@"
