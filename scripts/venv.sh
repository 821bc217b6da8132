#!/usr/bin/env bash
# Print the path of kgrec's virtual environment, building it first if needed.
#
# The environment lives outside the clone, keyed by the hash of requirements.txt
# (~/.cache/kgrec/venv-<hash>), so every clone and CI run on this machine reuses it
# and pip runs only when the pins change. The project itself is installed in
# editable mode, pointed at the clone that calls this script.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${KGREC_PYTHON:-python3.11}
command -v "$python" >/dev/null 2>&1 || python=python3
hash=$(sha256sum "$here/requirements.txt" | cut -c1-16)
root=${KGREC_VENV_ROOT:-$HOME/.cache/kgrec}
venv="$root/venv-$hash"
mkdir -p "$root"
exec 9>"$root/.lock-$hash"
flock 9   # two clones building the same environment at once wait for each other
if [ ! -f "$venv/.complete" ]; then
    echo "kgrec: building virtual environment $venv (first run; torch is large, this takes minutes)" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip >&2
    "$venv/bin/pip" install -q -r "$here/requirements.txt" >&2
    touch "$venv/.complete"
fi
# Point the editable install at this clone (cheap; skipped when it already does).
# (checked from / so that a kg/ in the current folder cannot answer for the installed one)
if ! (cd / && "$venv/bin/python" -c "import kg, sys; sys.exit(0 if kg.__file__.startswith('$here/') else 1)") 2>/dev/null; then
    "$venv/bin/pip" install -q --no-deps --no-build-isolation -e "$here" >&2
fi
echo "$venv"
