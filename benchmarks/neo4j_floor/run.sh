#!/usr/bin/env bash
# Compile and run CoreBench.java on the classpath of kgrec's local Neo4j launcher (built if needed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=$(bash "$here/../../scripts/venv.sh")
cp=$("$venv/bin/python" -c "
from kg.neo4j_local.build import build, default_cache_root
print(':'.join(str(p) for p in build(default_cache_root(), cds=False)))")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
javac -nowarn -cp "$cp" -d "$out" "$here/CoreBench.java" 2>&1 | grep -v '^Note:' || true
java -Xms512m -Xmx512m -XX:+UseParallelGC --add-opens java.base/java.nio=ALL-UNNAMED \
    --add-opens java.base/java.io=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
    -cp "$out:$cp" CoreBench "${1:-core}" "${2:-100000}" "${3:-5000}" 2>&1 | grep round
