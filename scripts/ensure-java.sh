#!/usr/bin/env bash
# Make sure Java 17+ and Maven are there for the local Neo4j server; install them from Debian's
# packages when missing and we may (root). Prints nothing when both are present.
set -euo pipefail
need=()
java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1 || true)
if [ -z "${java_major}" ] || [ "${java_major}" -lt 17 ]; then need+=(openjdk-17-jdk-headless); fi
command -v mvn >/dev/null 2>&1 || need+=(maven)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "kgrec: the Neo4j tests need ${need[*]}; install them (e.g. sudo apt-get install ${need[*]})" >&2
    exit 1
fi
echo "kgrec: installing ${need[*]} for the local Neo4j server" >&2
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
