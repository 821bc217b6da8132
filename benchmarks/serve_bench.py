"""Latency and throughput of `POST /v1/recommendations` with explanations, under wrk.

    python benchmarks/serve_bench.py ../shared/data/amazon-industrial-scientific
    python benchmarks/serve_bench.py --home /tmp/kgrec-refresh-bench-XXXX/home   # a trained home

Loads the folder into the embedded store of a fresh home and trains a bundle (or reuses a
``--home`` that has both, e.g. the one `refresh_bench.py --synth 100000` leaves behind), starts
`kgrec serve --workers 2` on loopback and drives it with wrk (Debian's package;
scripts/ensure-system.sh wrk installs it): each request is a known user, drawn at random from
the catalogue's users, ``k=10``, explanations on. Prints p50/p90/p99 latency, requests/s and
non-2xx answers as a Markdown row; ``--json`` too. The load generator shares the machine's cores
with the server, as it would on a 2-core box.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# wrk's Lua hooks: a random known user per request (wrk.format builds the request).
LUA = """
local users = {}
for line in io.lines("%(users)s") do users[#users + 1] = line end
math.randomseed(%(seed)d)
request = function()
  local u = users[math.random(#users)]
  local body = '{"user_id": "' .. u .. '", "k": 10, "explain": %(explain)s}'
  return wrk.format("POST", "/v1/recommendations", {["Content-Type"] = "application/json"}, body)
end
local bad = 0
response = function(status, headers, body)
  if status >= 300 then bad = bad + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("non2xx_total %%d\\n", summary.errors.status))
end
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(data: Path, home: Path) -> None:
    from gnn.workflow import train_bundle
    from kg.ingest import load_dir
    from kg.snapshot import export_snapshot
    from service.config import load_config
    from service.stores import open_store
    from service.texts import encode_snapshot

    config = load_config({"KGREC_HOME": str(home), "KGREC_DEVICE": "cpu"})
    store = open_store(config)
    load_dir(store, data)
    snapshot = export_snapshot(store)
    store.close()
    vectors, _, model_id = encode_snapshot(config, snapshot)
    train_bundle(snapshot, vectors, config.bundle_root, extra_manifest={"text_model": model_id})


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1000.0}[unit]


def _heaps_settled(log: Path) -> int:
    """How many times a worker logged that its heap is on huge pages, or why not."""
    text = log.read_text(errors="replace")
    return text.count('"heap on huge pages') + text.count('"huge pages not used')


def _wait_for_heaps(log: Path, count: int, until: float) -> None:
    """Waits until the workers have logged ``count`` huge-page lines, or time ``until``."""
    while time.time() < until and _heaps_settled(log) < count:
        time.sleep(1)


def parse_wrk(out: str) -> dict:
    """p50/p90/p99 (ms), requests/s and non-2xx answers from `wrk --latency` output."""
    lat = {f"p{p}": _ms(v) for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.M)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = int(re.search(r"non2xx_total (\d+)", out).group(1))
    return lat | {"requests_per_s": rps, "requests": total, "non2xx": non2xx}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", type=Path)
    parser.add_argument("--home", type=Path, default=None, help="A home with a store and a bundle.")
    parser.add_argument("--duration", type=int, default=30, help="Seconds of load.")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-explain", action="store_true", help="Ask for no explanations (to compare).")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if (args.data is None) == (args.home is None):
        parser.error("give a data folder or --home")
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: bash scripts/ensure-system.sh wrk")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work = Path(tempfile.mkdtemp(prefix="kgrec-serve-bench-"))
    home = args.home or work / "home"
    if args.home is None:
        _prepare(args.data, home)
    from gnn.bundle import load_bundle

    bundle = load_bundle(home / "bundles", verify=False)
    users = work / "users.txt"
    users.write_text("\n".join(bundle.node_ids["User"]) + "\n")
    script = work / "recommend.lua"
    explain = "false" if args.no_explain else "true"
    script.write_text(LUA % {"users": users, "seed": 0, "explain": explain})
    port = _free_port()
    env = dict(os.environ, KGREC_HOME=str(home), KGREC_DEVICE="cpu", KGREC_RELOAD_POLL="0")
    log = work / "server.log"  # the workers' JSON logs, read to see their heaps settled
    server = subprocess.Popen([sys.executable, "-m", "service", "serve", "--workers", str(args.workers),
                               "--bind", f"127.0.0.1:{port}"], env=env, cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 900  # a 100k catalogue: graph and text kernel per worker
        while True:
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline or server.poll() is not None:
                sys.exit("the service did not become ready")
            time.sleep(1)
        # each worker moves its heap to huge pages in the background once its bundle is loaded
        # and again once its store is (service.heap): measured after that, as a long-running
        # service runs. A worker opens its store at its first request, so the second round
        # comes during the warm-up, which every worker takes part in.
        from service.config import load_config

        huge = load_config(env).huge_pages
        if huge:
            _wait_for_heaps(log, args.workers, deadline)
        # warm-up: every worker loads lazily what the first requests need
        subprocess.run(["wrk", "-t1", "-c2", "-d5s", "-s", str(script), url], capture_output=True, check=True)
        if huge:
            _wait_for_heaps(log, 2 * args.workers, time.time() + 120)
        out = subprocess.run(["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
                              "-s", str(script), url], capture_output=True, text=True, check=True).stdout
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    result = parse_wrk(out) | {
        "data": bundle.manifest.get("counts", {}).get("Product"), "users": len(bundle.node_ids["User"]),
        "workers": args.workers, "connections": args.connections, "duration_s": args.duration,
        "explain": not args.no_explain,
        "command": f"wrk -t1 -c{args.connections} -d{args.duration}s --latency -s recommend.lua {url}",
    }
    print("| products | explanations | workers | connections | p50 ms | p90 ms | p99 ms | requests/s | non-2xx |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {result['data']:,} | {'on' if result['explain'] else 'off'} | {args.workers} | "
          f"{args.connections} | {result['p50']:.1f} | "
          f"{result['p90']:.1f} | {result['p99']:.1f} | {result['requests_per_s']:.0f} | {result['non2xx']} |")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
