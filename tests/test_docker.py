"""docker/: the Dockerfile, compose.yaml and their README agree with each other and with the code.

No Docker engine is needed: the files are parsed here (compose.yaml with PyYAML, with Compose's
``${VAR:-default}`` interpolation done by a small helper; the Dockerfile by a small instruction
parser) and every cross-reference is checked: images, ports, credentials, volumes, depends_on,
COPY sources, the torch pin, and the `kgrec` commands and options used.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import click
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
COMPOSE_FILE = DOCKER / "compose.yaml"
DOCKERFILE = DOCKER / "Dockerfile"
DOCKER_README = DOCKER / "README.md"
DOCKERIGNORE = ROOT / ".dockerignore"

NEO4J_IMAGE = "neo4j:5.26-community"
NEO4J_BOLT = 7687
NEO4J_HTTP = 7474

#: environments the compose file is resolved under: nothing set (every default), and all set
ENVIRONMENTS = {
    "defaults": {},
    "custom": {
        "NEO4J_PASSWORD": "s3cret-pass-word",
        "KGREC_ADMIN_TOKEN": "tok-123",
        "KGREC_WORKERS": "4",
        "KGREC_DELTAS": "/srv/deltas",
    },
}


# --- compose: interpolation and loading -----------------------------------------------------------


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable interpolation of one string: ``$VAR``, ``${VAR}``, ``${VAR:-default}``,
    ``${VAR-default}``, ``${VAR:?error}``, ``${VAR?error}``, ``${VAR:+alt}``, ``${VAR+alt}``
    (defaults may nest), and ``$$`` for a literal ``$``."""
    out, i = [], 0
    while i < len(value):
        ch = value[i]
        if ch != "$":
            out.append(ch)
            i += 1
        elif value.startswith("$$", i):
            out.append("$")
            i += 2
        elif value.startswith("${", i):
            depth, j = 1, i + 2  # find the matching }: a nested ${ opens one more
            while j < len(value) and depth:
                if value.startswith("${", j):
                    depth, j = depth + 1, j + 2
                    continue
                depth -= value[j] == "}"
                j += 1
            if depth:
                raise ValueError(f"unclosed ${{ in {value!r}")
            out.append(_expand(value[i + 2 : j - 1], env))
            i = j
        else:
            m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", value[i + 1 :])
            if not m:
                raise ValueError(f"bad $ in {value!r} (write $$ for a literal $)")
            out.append(env.get(m.group(0), ""))
            i += 1 + m.end()
    return "".join(out)


def _expand(expr: str, env: dict[str, str]) -> str:
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?$", expr, re.S)
    if not m:
        raise ValueError(f"bad interpolation ${{{expr}}}")
    name, kind, arg = m.group(1), m.group(2), m.group(3) or ""
    if kind is None:
        return env.get(name, "")
    present = bool(env.get(name)) if kind.startswith(":") else name in env
    if kind.endswith("-"):
        return env[name] if present else interpolate(arg, env)
    if kind.endswith("?"):
        if not present:
            raise ValueError(f"required variable {name} is missing: {arg}")
        return env[name]
    return interpolate(arg, env) if present else ""  # :+ and +


def _resolve(node, env):
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_resolve(v, env) for v in node]
    if isinstance(node, dict):
        return {k: _resolve(v, env) for k, v in node.items()}
    return node


def load_compose(env: dict[str, str]) -> dict:
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(raw, dict), "compose.yaml is not a mapping"
    return _resolve(raw, env)


@pytest.fixture(params=sorted(ENVIRONMENTS), ids=sorted(ENVIRONMENTS))
def compose(request) -> dict:
    return load_compose(ENVIRONMENTS[request.param])


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # ["KEY=value", ...]
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def command_of(service: dict) -> list[str]:
    """The service's command as argv: compose `command` when given, else the Dockerfile's CMD."""
    cmd = service.get("command")
    if cmd is None:
        assert "build" in service, "a service without command must build the kgrec image"
        return dockerfile_cmd()
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def parse_port(spec) -> tuple[str | None, int | None, int]:
    """(host_ip, host_port, container_port) of a short or long port syntax entry."""
    if isinstance(spec, dict):
        return (
            spec.get("host_ip"),
            int(spec["published"]) if spec.get("published") else None,
            int(spec["target"]),
        )
    spec = str(spec).split("/")[0]
    parts = spec.rsplit(":", 2) if spec.count(":") >= 2 else spec.split(":")
    if len(parts) == 3:
        return parts[0], int(parts[1]), int(parts[2])
    if len(parts) == 2:
        return None, int(parts[0]), int(parts[1])
    return None, None, int(parts[0])


def parse_volume(spec) -> tuple[str, str | None, str, bool]:
    """(type, source, target, read_only) of a short or long volume syntax entry."""
    if isinstance(spec, dict):
        return spec["type"], spec.get("source"), spec["target"], bool(spec.get("read_only"))
    parts = str(spec).split(":")
    if len(parts) == 1:
        return "volume", None, parts[0], False
    source, target = parts[0], parts[1]
    ro = len(parts) > 2 and "ro" in parts[2].split(",")
    kind = "bind" if source.startswith((".", "/", "~")) else "volume"
    return kind, source, target, ro


def published(service: dict) -> list[tuple[str | None, int | None, int]]:
    return [parse_port(p) for p in service.get("ports", [])]


def bind_port(argv: list[str]) -> int:
    assert argv[:2] == ["kgrec", "serve"], argv
    assert "--bind" in argv, f"kgrec serve without --bind: {argv}"
    host, _, port = argv[argv.index("--bind") + 1].rpartition(":")
    assert (
        host == "0.0.0.0"
    ), f"in a container the service must listen on all interfaces, not {host!r}"
    return int(port)


# --- Dockerfile parsing ---------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order; continuation lines joined, comment lines dropped."""
    out, buf = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not buf):
            continue
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        if buf.strip():
            word, _, rest = buf.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
        buf = ""
    assert not buf, "Dockerfile ends in a line continuation"
    return out


def dockerfile_args() -> dict[str, str]:
    args = {}
    for instr, rest in dockerfile_instructions():
        if instr == "ARG" and "=" in rest:
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip().strip('"')
    return args


def dockerfile_env() -> dict[str, str]:
    env = {}
    for instr, rest in dockerfile_instructions():
        if instr == "ENV":
            for token in shlex.split(rest):
                name, _, value = token.partition("=")
                env[name] = value
    return env


def substitute_args(text: str) -> str:
    args = dockerfile_args()
    return re.sub(
        r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), m.group(0)), text
    )


def exec_form(rest: str) -> list[str]:
    argv = json.loads(rest)
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), rest
    return argv


def dockerfile_cmd() -> list[str]:
    cmds = [rest for instr, rest in dockerfile_instructions() if instr == "CMD"]
    assert len(cmds) == 1, "the Dockerfile needs exactly one CMD"
    return exec_form(cmds[0])


def dockerfile_expose() -> set[int]:
    ports = set()
    for instr, rest in dockerfile_instructions():
        if instr == "EXPOSE":
            ports |= {int(p.split("/")[0]) for p in rest.split()}
    return ports


def dockerfile_runs() -> list[str]:
    return [substitute_args(rest) for instr, rest in dockerfile_instructions() if instr == "RUN"]


def requirement_pin(name: str) -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        m = re.match(rf"^\s*{re.escape(name)}\s*==\s*([^\s;#]+)", line)
        if m:
            return m.group(1)
    raise AssertionError(f"{name} is not pinned in requirements.txt")


# --- .dockerignore --------------------------------------------------------------------------------


def _ignore_regex(pattern: str) -> re.Pattern:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + "$")


def dockerignored(rel: str) -> bool:
    """Whether the build context leaves out `rel` (a path or any folder above it matches; the
    last matching pattern wins, ``!`` re-includes), as Docker reads .dockerignore."""
    if not DOCKERIGNORE.exists():
        return False
    rules = []
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:] if negate else line
        rules.append((negate, _ignore_regex(pattern.strip("/").removeprefix("./"))))
    parts = rel.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for negate, rx in rules:
        if any(rx.match(p) for p in prefixes):
            excluded = not negate
    return excluded


# --- the kgrec CLI --------------------------------------------------------------------------------


def cli_main() -> click.Group:
    from service.cli import main

    return main


def check_kgrec_argv(argv: list[str], where: str) -> None:
    """argv starts with `kgrec`; its command (and sub-command) exist and know every --option."""
    assert argv and argv[0] == "kgrec", argv
    group: click.Command = cli_main()
    names = ["kgrec"]
    rest = argv[1:]
    while isinstance(group, click.Group):
        while rest and rest[0].startswith("-"):  # group options, e.g. -v
            rest = rest[1:]
        if not rest:
            return  # `kgrec --help`
        name, rest = rest[0], rest[1:]
        assert (
            name in group.commands
        ), f"{where}: `{' '.join(names)} {name}` is not a command (have {sorted(group.commands)})"
        group, names = group.commands[name], names + [name]
    options = {"--help", "-h"}
    for param in group.params:
        options |= set(getattr(param, "opts", [])) | set(getattr(param, "secondary_opts", []))
    for token in rest:
        if token.startswith("-") and token != "-":
            opt = token.split("=", 1)[0]
            assert opt in options, f"{where}: `{' '.join(names)}` has no option {opt}"


#: options of `docker compose run` / `exec` that take a value
_COMPOSE_RUN_VALUE_OPTS = {
    "-v",
    "--volume",
    "-e",
    "--env",
    "-w",
    "--workdir",
    "-u",
    "--user",
    "--name",
    "--entrypoint",
    "-p",
    "--publish",
    "-l",
    "--label",
    "--env-from-file",
    "--index",
    "--pull",
    "--cap-add",
    "--cap-drop",
}


def readme_compose_commands() -> list[tuple[str, str, list[str]]]:
    """(line, verb, [service, *command]) of every `docker compose run|exec ...` in the README's
    code blocks and inline code (continuation lines joined, shell comments dropped, split at
    && ; | and redirections)."""
    found, in_code, buf = [], False, ""
    lines = []
    for line in DOCKER_README.read_text().splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
            lines.append(None)  # a block boundary: no continuation across it
        elif in_code:
            lines.append(line)
        else:  # inline code in the prose: `docker compose run ...`
            lines.extend(re.findall(r"`(docker compose (?:run|exec) [^`]+)`", line))
    for line in lines:
        if line is None:
            buf = ""
            continue
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        text, buf = buf + line, ""
        try:
            tokens = shlex.split(text, comments=True)
        except ValueError:
            continue
        segments, seg = [], []
        for tok in tokens:
            if tok in ("&&", "||", ";", "|") or tok.startswith(">"):
                segments.append(seg)
                seg = [] if not tok.startswith(">") else ["<redirect>"]
            else:
                seg.append(tok)
        segments.append(seg)
        for seg in segments:
            if "compose" not in seg or not (
                seg.index("compose") and seg[seg.index("compose") - 1].endswith("docker")
            ):
                continue
            tail = seg[seg.index("compose") + 1 :]
            verbs = [i for i, t in enumerate(tail) if t in ("run", "exec")]
            if not verbs:
                continue
            verb, args = tail[verbs[0]], tail[verbs[0] + 1 :]
            i = 0
            while i < len(args) and args[i].startswith("-"):
                i += 2 if args[i] in _COMPOSE_RUN_VALUE_OPTS else 1
            found.append((text.strip(), verb, args[i:]))
    return found


# === tests ========================================================================================


def test_files_exist():
    for path in (DOCKERFILE, COMPOSE_FILE, DOCKER_README, DOCKERIGNORE):
        assert path.is_file(), f"{path.relative_to(ROOT)} is missing"


def test_interpolation_helper():
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("a${SET}b$SET$$", env) == "axbx$"
    assert interpolate("${MISSING:-d}|${EMPTY:-d}|${EMPTY-d}|${MISSING-d}", env) == "d|d||d"
    assert interpolate("${SET:+alt}|${MISSING:+alt}", env) == "alt|"
    assert interpolate("${MISSING:-${SET}}", env) == "x"
    with pytest.raises(ValueError):
        interpolate("${MISSING:?needed}", env)


def test_compose_services_and_images(compose):
    services = compose["services"]
    assert {"neo4j", "kgrec", "refresh"} <= set(services)
    assert services["neo4j"]["image"] == NEO4J_IMAGE
    assert "build" not in services["neo4j"]
    kgrec, refresh = services["kgrec"], services["refresh"]
    for name in ("kgrec", "refresh"):
        build = services[name].get("build")
        assert isinstance(build, dict), f"{name} must build the kgrec image"
        assert (
            COMPOSE_FILE.parent / build["context"]
        ).resolve() == ROOT, f"{name}: the build context must be the repository root"
        assert (
            ROOT / build["dockerfile"]
        ).resolve() == DOCKERFILE, f"{name}: must build from docker/Dockerfile"
    assert kgrec["build"] == refresh["build"], "kgrec and refresh must build the same image"
    assert kgrec.get("image") == refresh.get("image"), "kgrec and refresh must tag the same image"


def test_neo4j_service(compose):
    neo4j = compose["services"]["neo4j"]
    ports = published(neo4j)
    assert {c for _, _, c in ports} == {
        NEO4J_HTTP,
        NEO4J_BOLT,
    }, "publish Browser (7474) and Bolt (7687)"
    for host_ip, host_port, container in ports:
        assert host_ip == "127.0.0.1", f"neo4j port {container} must be published on 127.0.0.1 only"
        assert host_port == container
    assert neo4j.get("healthcheck", {}).get("test"), "neo4j needs a healthcheck"
    test = (
        " ".join(neo4j["healthcheck"]["test"])
        if isinstance(neo4j["healthcheck"]["test"], list)
        else neo4j["healthcheck"]["test"]
    )
    m = re.search(r"https?://[^\s'\"]+", test)
    if m:  # an HTTP check must ask the HTTP connector, and fetch nothing into the container
        assert urlsplit(m.group(0)).port == NEO4J_HTTP
        assert "wget" not in test or "--spider" in test or "-O" in test
    else:
        assert "cypher-shell" in test
    targets = {parse_volume(v)[2] for v in neo4j.get("volumes", [])}
    assert "/data" in targets, "neo4j's /data must be on a volume"


def test_neo4j_credentials_match(compose):
    services = compose["services"]
    auth = env_of(services["neo4j"])["NEO4J_AUTH"]
    user, sep, password = auth.partition("/")
    assert sep and user and password, f"NEO4J_AUTH must be user/password, got {auth!r}"
    assert len(password) >= 8, "Neo4j 5 refuses passwords shorter than 8 characters"
    for name in ("kgrec", "refresh"):
        env = env_of(services[name])
        assert env.get("KGREC_STORE") == "neo4j", f"{name} must use the neo4j store"
        assert (
            env.get("NEO4J_USER", "neo4j") == user
        ), f"{name}: NEO4J_USER is not NEO4J_AUTH's user"
        assert (
            env.get("NEO4J_PASSWORD") == password
        ), f"{name}: NEO4J_PASSWORD is not the password of NEO4J_AUTH"
        uri = urlsplit(env["NEO4J_URI"])
        assert uri.scheme in ("bolt", "neo4j"), env["NEO4J_URI"]
        assert (
            uri.hostname == "neo4j" and uri.hostname in services
        ), f"{name}: NEO4J_URI must name the neo4j service"
        assert uri.port == NEO4J_BOLT, f"{name}: NEO4J_URI must use the Bolt port {NEO4J_BOLT}"
        assert NEO4J_BOLT in {c for _, _, c in published(services["neo4j"])}
    assert env_of(services["kgrec"]).get("KGREC_ADMIN_TOKEN"), "the service needs a reload token"
    assert env_of(services["kgrec"])["KGREC_ADMIN_TOKEN"] == env_of(services["refresh"]).get(
        "KGREC_ADMIN_TOKEN"
    ), "the job's reload token is not the service's"


def test_custom_environment_is_used():
    compose = load_compose(ENVIRONMENTS["custom"])
    services = compose["services"]
    assert env_of(services["neo4j"])["NEO4J_AUTH"] == "neo4j/s3cret-pass-word"
    assert env_of(services["refresh"])["KGREC_ADMIN_TOKEN"] == "tok-123"
    assert command_of(services["kgrec"])[-2:] == ["--workers", "4"]


def test_service_ports_match_bind_and_expose(compose):
    kgrec = compose["services"]["kgrec"]
    port = bind_port(command_of(kgrec))
    assert bind_port(dockerfile_cmd()) == port, "the Dockerfile's CMD listens on another port"
    assert dockerfile_expose() == {port}, "the Dockerfile's EXPOSE is not the service's port"
    ports = published(kgrec)
    assert [c for _, _, c in ports] == [port], "kgrec must publish exactly its --bind port"
    for host_ip, _, _ in ports:
        assert host_ip == "127.0.0.1", "publish the service on 127.0.0.1 by default"
    checks = [rest for instr, rest in dockerfile_instructions() if instr == "HEALTHCHECK"]
    assert len(checks) == 1, "the Dockerfile needs one HEALTHCHECK"
    url = urlsplit(re.search(r"https?://[^\s'\"]+", checks[0]).group(0))
    assert url.path == "/healthz" and url.port == port, f"HEALTHCHECK must GET :{port}/healthz"
    assert "curl" not in checks[0], "python:3.11-slim has no curl"


def test_refresh_job(compose):
    services = compose["services"]
    refresh = services["refresh"]
    argv = command_of(refresh)
    assert argv[:2] == ["kgrec", "refresh"], argv
    assert "--service-url" in argv, "the job must tell the service to reload"
    port = bind_port(command_of(services["kgrec"]))
    urls = [argv[argv.index("--service-url") + 1]]
    if "KGREC_SERVICE_URL" in env_of(refresh):
        urls.append(env_of(refresh)["KGREC_SERVICE_URL"])
    for raw in urls:
        url = urlsplit(raw)
        assert (
            url.hostname == "kgrec" and url.hostname in services
        ), f"{raw} must name the kgrec service"
        assert url.port == port, f"{raw} must use the service's port {port}"
    assert (
        refresh.get("restart") == "no"
    ), 'a one-shot job: restart: "no" (quoted: bare no is false)'
    assert "job" in refresh.get("profiles", []), "the job must be in a profile, so `up` skips it"
    for name in ("neo4j", "kgrec"):
        assert not services[name].get("profiles"), f"{name} must start with a plain `up`"
    vols = [parse_volume(v) for v in refresh.get("volumes", [])]
    deltas = [v for v in vols if v[2] == "/deltas"]
    assert deltas and deltas[0][3], "the delta folder must be mounted read-only at /deltas"


def test_state_volume_shared_with_the_job(compose):
    """The job publishes bundles and reads the feedback log where the service does: KGREC_HOME."""
    services = compose["services"]
    home = dockerfile_env()["KGREC_HOME"]
    mounts = {}
    for name in ("kgrec", "refresh"):
        home_here = env_of(services[name]).get("KGREC_HOME", home)
        found = [
            parse_volume(v)
            for v in services[name].get("volumes", [])
            if parse_volume(v)[2] == home_here
        ]
        assert found and found[0][0] == "volume", f"{name}: {home_here} must be a named volume"
        mounts[name] = found[0][1]
    assert mounts["kgrec"] == mounts["refresh"], "kgrec and refresh must share the state volume"
    assert any(instr == "VOLUME" and home in rest for instr, rest in dockerfile_instructions())


def test_volumes_declared_and_used(compose):
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, service in compose["services"].items():
        for spec in service.get("volumes", []):
            kind, source, target, _ = parse_volume(spec)
            if kind == "volume" and source:
                assert source in declared, f"{name}: volume {source!r} is not declared"
                used.add(source)
    assert declared == used, f"declared but unused volumes: {sorted(declared - used)}"


def test_depends_on(compose):
    services = compose["services"]
    for name, service in services.items():
        deps = service.get("depends_on") or {}
        if isinstance(deps, list):
            deps = {d: {"condition": "service_started"} for d in deps}
        for target, spec in deps.items():
            assert target in services, f"{name} depends on unknown service {target!r}"
            assert target != name
            condition = (spec or {}).get("condition", "service_started")
            assert condition in (
                "service_started",
                "service_healthy",
                "service_completed_successfully",
            ), condition
            if condition == "service_healthy":
                check = services[target].get("healthcheck") or {}
                has_check = (check.get("test") and not check.get("disable")) or (
                    "build" in services[target]
                    and not check.get("disable")
                    and any(i == "HEALTHCHECK" for i, _ in dockerfile_instructions())
                )
                assert (
                    has_check
                ), f"{name} waits for {target} to be healthy, but it has no healthcheck"
            if not service.get("profiles"):
                assert not services[target].get(
                    "profiles"
                ), f"{name} starts by default but depends on {target}, which is in a profile"
    assert "neo4j" in services["kgrec"].get("depends_on", {})


def test_dockerfile_base_user_and_env():
    instrs = dockerfile_instructions()
    froms = [rest for instr, rest in instrs if instr == "FROM"]
    assert froms == ["python:3.11-slim"], froms
    users = [rest for instr, rest in instrs if instr == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image must run as a non-root user"
    env = dockerfile_env()
    assert env.get("KGREC_HOME") == "/data"
    assert env.get("HF_HUB_OFFLINE") == "1", "the model ships in the image: never ask the hub"


def test_dockerfile_torch_is_the_pinned_cpu_build():
    runs = dockerfile_runs()
    pin = requirement_pin("torch")
    torch_runs = [
        i for i, r in enumerate(runs) if "--index-url" in r and re.search(r"\btorch==", r)
    ]
    assert torch_runs, "torch must be installed from PyTorch's CPU index"
    first = runs[torch_runs[0]]
    assert "download.pytorch.org/whl/cpu" in first, "torch's index must be the CPU one"
    versions = re.findall(r"\btorch==([\w.+!-]+)", first)
    assert versions == [
        pin
    ], f"the Dockerfile installs torch {versions}, requirements.txt pins {pin}"
    req_runs = [i for i, r in enumerate(runs) if re.search(r"pip install[^&]*\s-r\s", r)]
    assert req_runs, "the Dockerfile must install requirements.txt's pins"
    for i in req_runs:
        assert i > torch_runs[0], "torch (CPU) must be installed before the other requirements"
        for target in re.findall(r"\s-r\s+(\S+)", runs[i]):
            assert (
                not target.endswith("/requirements.txt") and target != "requirements.txt"
            ), "install requirements with torch filtered out, or pip may pull the CUDA build"
        assert (
            "torch.version.cuda" in runs[i]
        ), "check after the install that torch is still CPU-only"


def test_dockerfile_copy_sources():
    copied = []
    for instr, rest in dockerfile_instructions():
        if instr not in ("COPY", "ADD"):
            continue
        args = shlex.split(rest)
        if any(a.startswith("--from") for a in args):
            continue
        args = [a for a in args if not a.startswith("--")]
        assert len(args) >= 2, rest
        for src in args[:-1]:
            matches = list(ROOT.glob(src))
            assert matches, f"COPY source {src!r} does not exist in the repository"
            for path in matches:
                rel = path.relative_to(ROOT).as_posix()
                assert not dockerignored(rel), f"COPY source {rel} is excluded by .dockerignore"
                files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
                for f in files:
                    frel = f.relative_to(ROOT).as_posix()
                    if "__pycache__" in frel or frel.endswith(".pyc") or "/target/" in frel:
                        continue
                    assert not dockerignored(frel), f"{frel} is excluded by .dockerignore"
                copied.append(rel)
    # what `pip install .` needs: pyproject.toml, its readme, and every package it finds
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = {"pyproject.toml", "requirements.txt", project["project"]["readme"]}
    includes = project["tool"]["setuptools"]["packages"]["find"]["include"]
    for pkg in ROOT.iterdir():
        if (pkg / "__init__.py").is_file() and any(
            re.fullmatch(p.replace("*", ".*"), pkg.name) for p in includes
        ):
            needed.add(pkg.name)
    assert needed <= set(copied), f"not copied into the image: {sorted(needed - set(copied))}"


def test_dockerignore_keeps_secrets_and_junk_out():
    for rel in ("docker/.env", ".git", "service/__pycache__"):
        assert dockerignored(rel), f"{rel} should be left out of the build context"
    assert not dockerignored("service/static/index.html")


def test_kgrec_commands_exist(compose):
    used = [("Dockerfile CMD", dockerfile_cmd())]
    for name, service in compose["services"].items():
        if "build" in service:
            used.append((f"compose service {name}", command_of(service)))
    for where, argv in used:
        check_kgrec_argv(argv, where)
    assert {argv[1] for _, argv in used} >= {"serve", "refresh"}


def test_readme_commands_exist():
    compose = load_compose({})
    found = readme_compose_commands()
    assert len(found) >= 5, "docker/README.md should show the load/train/refresh commands"
    seen = set()
    for line, verb, argv in found:
        assert argv, f"docker/README.md: no service in {line!r}"
        service, command = argv[0], argv[1:]
        assert (
            service in compose["services"]
        ), f"docker/README.md: unknown service {service!r} in {line!r}"
        if command and command[0] == "kgrec":
            check_kgrec_argv(command, f"docker/README.md: {line!r}")
            seen.add(command[1])
        elif verb == "exec":
            assert command, line
    assert {"load", "train", "refresh"} <= seen, f"README shows only {sorted(seen)}"
    text = DOCKER_README.read_text()
    assert re.search(
        r"^[\d*/,-]+ [\d*/,-]+ [\d*/,-]+ [\d*/,-]+ [\d*/,-]+ .*run --rm -T refresh", text, re.M
    ), "document a crontab line that runs the refresh job"
