#!/usr/bin/env bash
# Make sure the Debian packages the test suite drives are there: Java 17+ and Maven for the local
# Neo4j server, Chromium and ChromeDriver for the browser tests of the web page and of Neo4j
# Browser. Installs what is missing when we may (root); prints nothing when all are present.
# Extra package names on the command line (e.g. wrk for the load benchmark) are ensured too.
set -euo pipefail
need=()
java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1 || true)
if [ -z "${java_major}" ] || [ "${java_major}" -lt 17 ]; then need+=(openjdk-17-jdk-headless); fi
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
for extra in "$@"; do command -v "$extra" >/dev/null 2>&1 || need+=("$extra"); done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "kgrec: the tests need ${need[*]}; install them (e.g. sudo apt-get install ${need[*]})" >&2
    exit 1
fi
echo "kgrec: installing ${need[*]} from Debian's packages" >&2
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
