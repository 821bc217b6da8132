"""Compile and run CoreBench.java in a JVM set up as kgrec's local Neo4j launcher runs.

    python benchmarks/neo4j_floor/run.py MODE [PRODUCTS] [BATCH]

The Cypher mode runs the loader's own statement (``kg.store_neo4j._CATALOGUE_CREATE``), read
from here so that the benchmark cannot drift from what the loader sends; the JVM gets the
launcher's flags (``kg.neo4j_local.jvm.JVM_FLAGS``) and a throw-away database folder.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from kg.neo4j_local.build import build, default_cache_root  # noqa: E402
from kg.neo4j_local.jvm import JVM_FLAGS, tool  # noqa: E402
from kg.store_neo4j import _CATALOGUE_CREATE  # noqa: E402


def main(argv: list[str]) -> int:
    mode, products, batch = (argv + ["core", "100000", "5000"][len(argv):])[:3]
    classpath = ":".join(str(p) for p in build(default_cache_root(), cds=False))
    with tempfile.TemporaryDirectory(prefix="kgrec-neo4j-floor-") as work:
        work = Path(work)
        statement = work / "statement.cypher"
        statement.write_text(_CATALOGUE_CREATE)
        subprocess.run([tool("javac"), "-nowarn", "-cp", classpath, "-d", str(work / "classes"),
                        str(Path(__file__).with_name("CoreBench.java"))], check=True)
        return subprocess.run([tool("java"), "-Xms512m", "-Xmx512m", *JVM_FLAGS,
                               "-cp", f"{work / 'classes'}:{classpath}", "CoreBench", mode,
                               products, batch, str(statement), str(work / "db")]).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
