"""Static checks of the Docker stack in deploy/: no Docker engine runs here (design §6).

Debian's docker-compose 1.29 renders the two compose files when it is installed (it skips
loudly locally and fails under CI=true otherwise). Everything else is plain Python on the
YAML and JSON files: healthchecks, restart policies, log rotation, limits, dependencies,
mounted paths, ports, secrets, the canary camera, the Detektor settings each service gets, and
the Grafana dashboards and datasources. Each check is a function returning the problems it
found, and the last tests feed those functions broken input to show that they can fail.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from detektor.settings import ConfigError, load_settings
from support.services import require_binary

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILES = (DEPLOY / "compose.yml", DEPLOY / "compose.gpu.yml")
ENV_EXAMPLE = DEPLOY / ".env.example"
GRAFANA = DEPLOY / "observability" / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "datasources.yml"
PROMETHEUS_CONFIG = DEPLOY / "observability" / "prometheus" / "prometheus.yml"

# Values for the variables compose requires (`${VAR:?...}`), as a deploy/.env would give them.
TEST_SECRETS = {
    "POSTGRES_PASSWORD": "0123456789abcdef",
    "GRAFANA_ADMIN_PASSWORD": "fedcba9876543210",
    "DETEKTOR_API_TOKEN": "00112233445566778899",
    "MQTT_PASSWORD": "99887766554433221100",
}
APP_SERVICES = {"capture", "detector", "tracking", "objects", "notifier"}
EXPECTED_SERVICES = APP_SERVICES | {
    "redis", "postgres", "mosquitto", "prometheus", "alertmanager", "grafana", "jaeger",
    "loki", "alloy", "node-exporter", "cadvisor", "postgres-exporter", "redis-exporter",
}  # fmt: skip
GPU_ONLY_SERVICES = {"dcgm-exporter"}
# Profile `full`: what the core (everything else) runs without.
FULL_PROFILE_SERVICES = {"grafana", "jaeger", "loki", "alloy", "cadvisor"}
CORE_SERVICES = EXPECTED_SERVICES - FULL_PROFILE_SERVICES
_IMAGE = re.compile(r"^\$\{(?P<var>[A-Z_]+_IMAGE):-(?P<default>[^}]+)\}$")
# Host ports a user opens: Grafana, tracking API, Prometheus, Alertmanager, Jaeger UI.
EXPECTED_PUBLISHED = {3000, 8000, 9090, 9093, 16686}
# Host paths (not in the repository) that exporters and the log shipper may read.
ALLOWED_HOST_PATHS = {
    "/", "/sys", "/var/run", "/var/lib/docker", "/var/lib/docker/", "/dev/disk", "/dev/disk/",
    "/var/run/docker.sock",
}  # fmt: skip
PERSISTENT = {
    "postgres": "/var/lib/postgresql/data",
    "redis": "/data",
    "prometheus": "/prometheus",
    "grafana": "/var/lib/grafana",
}
SECRET_KEY = re.compile(r"password|passwd|_pass$|secret|token|api_?key|credential", re.I)
_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_]\w*)"
)
_REFERENCE_ONLY = re.compile(r"^\$\{[A-Za-z_]\w*(?::?\?[^}]*)?\}$")
_URL_PASSWORD = re.compile(r"://(?:\$\{[^}]*\}|[^/\s:@]+):(?P<password>[^@\s]+)@")
_MQTT_URL = re.compile(r"mqtt://(?:\$\{[^}]*\}|[^:@/]+):\$\{MQTT_PASSWORD:\?[^}]+\}@")
MOSQUITTO_CONF = DEPLOY / "mosquitto" / "mosquitto.conf"


# --- loading -------------------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    """A YAML file with its anchors, aliases and `<<` merge keys resolved (PyYAML does it)."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def deep_merge(base: Any, override: Any) -> Any:
    """Compose's merge of an override file, close enough for these checks: mappings merge
    key by key, anything else is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(base[key], value) if key in base else value
        return merged
    return override


def load_stack(files: tuple[Path, ...] = COMPOSE_FILES) -> dict[str, Any]:
    stack: dict[str, Any] = {}
    for path in files:
        stack = deep_merge(stack, load_yaml(path))
    return stack


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's variable substitution: ${VAR}, $VAR, ${VAR:-default}, ${VAR-default},
    ${VAR:?error}, ${VAR?error}, and $$ for a literal $."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        unset_or_empty = not value
        if op == ":-":
            return arg if unset_or_empty else str(value)
        if op == "-":
            return arg if value is None else value
        if (op == ":?" and unset_or_empty) or (op == "?" and value is None):
            raise KeyError(f"{name}: {arg}")
        return value or ""

    return _VARIABLE.sub(substitute, value)


def variables(text: str) -> Iterator[tuple[str, str | None, str]]:
    """(name, operator, argument) of every variable referenced in compose text."""
    for match in _VARIABLE.finditer(text):
        if match.group(0) != "$$":
            yield (
                match.group("name") or match.group("bare"),
                match.group("op"),
                match.group("arg") or "",
            )


def strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a YAML/JSON tree, with a readable path to it (keys included)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield f"{path}.{key}", str(key)
            yield from strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from strings(value, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def volumes(service: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(kind, source, target) of each mount, with the default .env: kind is bind or volume."""
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            yield str(volume["type"]), str(volume.get("source", "")), str(volume["target"])
            continue
        source, target, *_ = [*interpolate(volume, TEST_SECRETS).split(":"), ""]
        yield ("bind" if source.startswith(("/", ".")) else "volume"), source, target


def bind_mounts(service: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(host source, container target) of each bind mount."""
    return ((src, target) for kind, src, target in volumes(service) if kind == "bind")


def named_volumes(service: dict[str, Any]) -> Iterator[tuple[str, str]]:
    return ((src, target) for kind, src, target in volumes(service) if kind == "volume")


def host_path(source: str) -> Path:
    """A bind-mount source (already interpolated) on this machine, relative to deploy/."""
    return Path(source) if source.startswith("/") else (DEPLOY / source).resolve()


# --- the checks: each returns the problems it found -----------------------------------------


def service_problems(services: dict[str, Any]) -> list[str]:
    problems = []
    for name, svc in services.items():
        test = (svc.get("healthcheck") or {}).get("test")
        if not test or test in (["NONE"], "NONE") or svc["healthcheck"].get("disable"):
            problems.append(f"{name}: no healthcheck")
        if svc.get("restart") not in ("unless-stopped", "always"):
            problems.append(f"{name}: restart is {svc.get('restart')!r}, not unless-stopped")
        logging = svc.get("logging") or {}
        options = logging.get("options") or {}
        if logging.get("driver") != "json-file" or not {"max-size", "max-file"} <= set(options):
            problems.append(f"{name}: logs are not rotated (json-file with max-size, max-file)")
        limits = ((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}
        if not ({"cpus", "memory"} <= set(limits) or {"cpus", "mem_limit"} <= set(svc)):
            problems.append(f"{name}: no CPU and memory limits")
    return problems


def dependency_problems(services: dict[str, Any]) -> list[str]:
    problems = []
    for name, svc in services.items():
        depends = svc.get("depends_on") or {}
        if isinstance(depends, list):
            problems.append(f"{name}: depends_on is a list; use condition: service_healthy")
            continue
        for dep, spec in depends.items():
            if dep not in services:
                problems.append(f"{name}: depends on {dep}, which is not a service")
            elif not (services[dep].get("healthcheck") or {}).get("test"):
                problems.append(f"{name}: depends on {dep}, which has no healthcheck")
            if (spec or {}).get("condition") != "service_healthy":
                problems.append(f"{name}: does not wait for {dep} to be healthy")

    def visit(node: str, trail: tuple[str, ...]) -> None:
        for dep in (services.get(node) or {}).get("depends_on") or {}:
            if dep in trail:
                problems.append("dependency cycle: " + " -> ".join((*trail, dep)))
            elif dep in services:
                visit(dep, (*trail, dep))

    for name in services:
        visit(name, (name,))
    return problems


def mount_problems(stack: dict[str, Any]) -> list[str]:
    problems = []
    declared = set(stack.get("volumes") or {})
    for name, svc in stack["services"].items():
        for source, _target in bind_mounts(svc):
            path = host_path(source)
            if source.startswith("/"):
                if source not in ALLOWED_HOST_PATHS:
                    problems.append(f"{name}: mounts the host path {source}, not allowed")
            elif not path.exists():
                problems.append(f"{name}: mounts {source}, which does not exist ({path})")
        for volume, _target in named_volumes(svc):
            if volume not in declared:
                problems.append(f"{name}: uses the volume {volume}, not declared")
    return problems


def referenced_file_problems(services: dict[str, Any]) -> list[str]:
    """Container paths named in commands and environment values that fall under a bind
    mount of the repository must exist there (a mounted directory missing the file named
    in --config.file is the classic broken provisioning)."""
    problems = []
    for name, svc in services.items():
        mounts = [
            (host_path(src), target) for src, target in bind_mounts(svc) if not src.startswith("/")
        ]
        command = svc.get("command") or []
        values = [command] if isinstance(command, str) else list(command)
        for value in [*values, *environment(svc).values()]:
            for path in re.findall(r"(?<![\w:/])(/[\w.\-/]+)", str(value)):
                for source, target in mounts:
                    if path == target or path.startswith(target.rstrip("/") + "/"):
                        local = source / path[len(target) :].lstrip("/")
                        if not local.exists():
                            problems.append(f"{name}: {path} is {local}, which does not exist")
    return problems


def host_addresses(services: dict[str, Any], env: Mapping[str, str]) -> dict[str, list[str]]:
    """The host address each service publishes its ports on, with `env` as the .env ("" for a
    port that names none, which Docker publishes on every interface)."""
    addresses: dict[str, list[str]] = {}
    for name, svc in services.items():
        for port in svc.get("ports") or []:
            if isinstance(port, dict):
                address = str(port.get("host_ip", ""))
            else:
                parts = interpolate(str(port), env).partition("/")[0].rsplit(":", 2)
                address = parts[0] if len(parts) == 3 else ""
            addresses.setdefault(name, []).append(address)
    return addresses


def exposure_problems(services: dict[str, Any]) -> list[str]:
    """Secure defaults: ports on 127.0.0.1 unless BIND_ADDRESS says otherwise, no
    Prometheus lifecycle API, no anonymous MQTT client."""
    problems = [
        f"{name}: publishes a port on {address or 'every interface'} by default"
        for name, found in host_addresses(services, TEST_SECRETS).items()
        for address in found
        if address != "127.0.0.1"
    ]
    for name, svc in services.items():
        command = svc.get("command") or []
        if any("--web.enable-lifecycle" in str(arg) for arg in command):
            problems.append(f"{name}: --web.enable-lifecycle lets anyone POST /-/quit")
        url = environment(svc).get("DETEKTOR_MQTT_URL")
        if url is not None and not re.match(_MQTT_URL, url):
            problems.append(f"{name}: DETEKTOR_MQTT_URL {url!r} carries no MQTT_PASSWORD")
    return problems


def default_password_problems(texts: list[str]) -> list[str]:
    """A secret variable is never given a default (`${MQTT_PASSWORD:-changeme}`)."""
    return [
        f"${{{name}{op}{arg}}}: a secret with a default"
        for text in texts
        for name, op, arg in variables(text)
        if SECRET_KEY.search(name) and op in (":-", "-")
    ]


def published_ports(services: dict[str, Any]) -> list[tuple[str, int, str]]:
    """(service, host port, protocol) of every published port, with the default .env."""
    published = []
    for name, svc in services.items():
        for port in svc.get("ports") or []:
            if isinstance(port, dict):
                if "published" in port:
                    published.append((name, int(port["published"]), port.get("protocol", "tcp")))
                continue
            spec, _, proto = interpolate(str(port), TEST_SECRETS).partition("/")
            parts = spec.rsplit(":", 2)
            if len(parts) == 1:
                continue  # a container port only: Docker picks a random host port
            published.append((name, int(parts[-2]), proto or "tcp"))
    return published


def port_problems(services: dict[str, Any]) -> list[str]:
    seen: dict[tuple[int, str], str] = {}
    problems = []
    for name, port, proto in published_ports(services):
        if (port, proto) in seen:
            problems.append(
                f"host port {port}/{proto}: published by {seen[port, proto]} and {name}"
            )
        seen[port, proto] = name
    return problems


def secret_problems(document: Any) -> list[str]:
    """Secrets must be `${VAR}` or `${VAR:?message}` references: no value, no default."""
    problems = []
    for path, value in strings(document):
        key = path.rsplit(".", 1)[-1]
        if value == key:
            continue  # the key itself
        if SECRET_KEY.search(key) and not _REFERENCE_ONLY.match(value):
            problems.append(f"{path}: a secret must be a ${{VAR:?...}} reference, not {value!r}")
        for match in _URL_PASSWORD.finditer(value):
            if not _REFERENCE_ONLY.match(match.group("password")):
                problems.append(f"{path}: the password in a URL must be a ${{VAR:?...}} reference")
    return problems


def env_example_problems(texts: list[str], example: str) -> list[str]:
    listed = dict(
        re.findall(r"^#?\s*([A-Za-z_]\w*)=(.*)$", example, flags=re.MULTILINE),
    )
    required = set(re.findall(r"^([A-Za-z_]\w*)=", example, flags=re.MULTILINE))
    problems: list[str] = []
    for text in texts:
        for name, op, _arg in variables(text):
            if name not in listed:
                problem = f"${{{name}}} is not in .env.example"
            elif op in (":?", "?") and name not in required:
                problem = f"{name} is required but commented out in .env.example"
            else:
                continue
            if problem not in problems:
                problems.append(problem)
    for name in required:
        if SECRET_KEY.search(name) and listed[name].strip():
            problems.append(f".env.example gives {name} a value; leave secrets empty")
    return problems


def provisioned_datasources() -> dict[str, str]:
    return {ds["uid"]: ds["type"] for ds in load_yaml(DATASOURCES)["datasources"]}


def datasource_refs(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            else:
                yield from datasource_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from datasource_refs(value)


def dashboard_problems(dashboards: dict[str, Any], datasources: dict[str, str]) -> list[str]:
    problems = []
    uids: dict[str, str] = {}
    for name, board in dashboards.items():
        uid = board.get("uid")
        if not uid:
            problems.append(f"{name}: no uid")
        elif uid in uids:
            problems.append(f"{name}: uid {uid} is also the uid of {uids[uid]}")
        else:
            uids[uid] = name
        for ref in datasource_refs(board):
            if not isinstance(ref, dict) or ref.get("uid") not in datasources:
                problems.append(f"{name}: datasource {ref!r} is not provisioned")
            elif ref.get("type") and ref["type"] != datasources[ref["uid"]]:
                problems.append(f"{name}: datasource {ref['uid']} is not of type {ref['type']}")
        for panel in board.get("panels", []):
            if panel.get("type") not in ("row", "text") and "datasource" not in panel:
                problems.append(f"{name}: panel {panel.get('title')!r} names no datasource")
    return problems


def profile_problems(services: dict[str, Any]) -> list[str]:
    """A service without a profile (the core) must not depend on one that has a profile: it
    would not start, or would pull in the rest, with the core alone."""
    return [
        f"{name}: in the core but depends on {dep} (profiles {services[dep]['profiles']})"
        for name, svc in services.items()
        if not svc.get("profiles")
        for dep in svc.get("depends_on") or {}
        if dep in services and services[dep].get("profiles")
    ]


def image_problems(services: dict[str, Any]) -> list[str]:
    """Every image is `${NAME_IMAGE:-default}`: a host without a registry names its own."""
    problems = []
    for name, svc in services.items():
        image = str(svc.get("image", ""))
        if not _IMAGE.match(image) and not image.startswith("${APP"):
            problems.append(f"{name}: image {image!r} is not a ${{..._IMAGE:-default}} variable")
    return problems


def url_host_problems(urls: dict[str, str], services: dict[str, Any]) -> list[str]:
    return [
        f"{where}: {url} is not a compose service"
        for where, url in urls.items()
        if urlsplit(url).hostname not in services
    ]


# --- the tests ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    return load_stack()


@pytest.fixture(scope="module")
def services(stack: dict[str, Any]) -> dict[str, Any]:
    services: dict[str, Any] = stack["services"]
    return services


def _compose(
    args: list[str], dotenv: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """docker-compose on both files, with `dotenv` as its .env file (not the developer's
    deploy/.env, and nothing from this process's environment but PATH and HOME). `args` may
    start with `--profile NAME`."""
    binary = require_binary("docker-compose", "docker-compose")
    env_file = tmp_path / "env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in dotenv.items()))
    files = [arg for path in COMPOSE_FILES for arg in ("-f", str(path))]
    return subprocess.run(
        [binary, "--project-directory", str(DEPLOY), "--env-file", str(env_file), *files, *args],
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/")},
        cwd=DEPLOY,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("profile", [[], ["--profile", "full"]], ids=["core", "full"])
def test_docker_compose_renders_the_stack(profile: list[str], tmp_path: Path) -> None:
    result = _compose([*profile, "config"], TEST_SECRETS, tmp_path)
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)
    # docker-compose 1.29 renders every service and leaves `profiles` on those in one.
    assert set(rendered["services"]) == EXPECTED_SERVICES | GPU_ONLY_SERVICES
    core = {name for name, svc in rendered["services"].items() if not svc.get("profiles")}
    assert core == CORE_SERVICES | GPU_ONLY_SERVICES
    assert profile_problems(rendered["services"]) == []
    assert dependency_problems({n: rendered["services"][n] for n in core}) == []
    detector = rendered["services"]["detector"]
    assert detector["environment"]["DETEKTOR_DETECTOR__DEVICE"] == "cuda"
    assert detector["deploy"]["resources"]["limits"]  # the GPU file kept the base limits
    assert detector["environment"]["DETEKTOR_API_TOKEN"] == TEST_SECRETS["DETEKTOR_API_TOKEN"]


def test_docker_compose_uses_the_image_variables(tmp_path: Path) -> None:
    stack_text = "".join(path.read_text(encoding="utf-8") for path in COMPOSE_FILES)
    defaults = dict(re.findall(r"\$\{([A-Z_]+_IMAGE):-([^}]+)\}", stack_text))
    assert len(defaults) >= 16, defaults
    rendered = yaml.safe_load(_compose(["config"], TEST_SECRETS, tmp_path).stdout)["services"]
    images = {svc["image"] for svc in rendered.values()}
    assert images == set(defaults.values())
    local = {var: f"local/{var.lower()}:test" for var in defaults}
    result = _compose(["config"], TEST_SECRETS | local, tmp_path)
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)["services"]
    assert {svc["image"] for svc in rendered.values()} == set(local.values())
    assert rendered["redis"]["image"] == "local/redis_image:test"
    assert rendered["detector"]["image"] == "local/app_gpu_image:test"


def test_every_image_is_a_variable_and_the_core_stands_alone(services: dict[str, Any]) -> None:
    assert image_problems(services) == []
    assert {name for name, svc in services.items() if svc.get("profiles")} == (
        FULL_PROFILE_SERVICES
    )
    assert all(services[name]["profiles"] == ["full"] for name in FULL_PROFILE_SERVICES)
    assert profile_problems(services) == []


@pytest.mark.parametrize("secret", sorted(TEST_SECRETS))
def test_docker_compose_refuses_to_start_without_a_secret(secret: str, tmp_path: Path) -> None:
    dotenv = {k: v for k, v in TEST_SECRETS.items() if k != secret}
    result = _compose(["config", "-q"], dotenv, tmp_path)
    assert result.returncode != 0
    assert secret in result.stderr


def test_the_stack_has_every_component(stack: dict[str, Any]) -> None:
    base = load_stack(COMPOSE_FILES[:1])["services"]
    assert set(base) == EXPECTED_SERVICES
    assert set(stack["services"]) - set(base) == GPU_ONLY_SERVICES
    compose_files = [
        *DEPLOY.glob("*compose*.yml"),
        *DEPLOY.glob("*compose*.yaml"),
        *ROOT.glob("*compose*.y*ml"),
    ]
    assert len(compose_files) <= 3, compose_files


def test_every_container_has_a_healthcheck_restart_policy_log_rotation_and_limits(
    services: dict[str, Any],
) -> None:
    assert service_problems(services) == []


def test_dependencies_wait_for_healthy_services(services: dict[str, Any]) -> None:
    assert dependency_problems(services) == []
    assert {"postgres", "redis"} <= set(services["tracking"]["depends_on"])
    assert "redis" in services["capture"]["depends_on"]
    assert "redis" in services["detector"]["depends_on"]


def test_mounted_files_and_directories_exist(stack: dict[str, Any]) -> None:
    assert mount_problems(stack) == []


def test_files_named_inside_mounted_directories_exist(services: dict[str, Any]) -> None:
    assert referenced_file_problems(services) == []


def test_host_ports_are_published_once_and_only_the_ones_people_use(
    services: dict[str, Any],
) -> None:
    assert port_problems(services) == []
    assert {port for _, port, _ in published_ports(services)} == EXPECTED_PUBLISHED


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_no_secret_is_hard_coded(path: Path) -> None:
    assert secret_problems(load_yaml(path)) == []
    texts = [value for _, value in strings(load_yaml(path))]
    assert default_password_problems(texts) == []


def test_secure_defaults(services: dict[str, Any]) -> None:
    assert exposure_problems(services) == []
    assert host_addresses(services, TEST_SECRETS | {"BIND_ADDRESS": "0.0.0.0"})["tracking"] == [
        "0.0.0.0"
    ]
    assert "DETEKTOR_MQTT_URL" in environment(services["notifier"])


def test_mosquitto_requires_the_password_everywhere(services: dict[str, Any]) -> None:
    conf = dict(
        line.split(None, 1)
        for line in MOSQUITTO_CONF.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert conf["allow_anonymous"] == "false"
    mosquitto = services["mosquitto"]
    script = mosquitto["entrypoint"][-1]
    # The password file named in the config is the one the entrypoint writes, in a tmpfs.
    assert f"mosquitto_passwd -c -b {conf['password_file']} " in script
    assert any(conf["password_file"].startswith(f"{fs}/") for fs in mosquitto["tmpfs"])
    assert '"$${MQTT_PASSWORD:?' in script  # an empty password stops the container
    assert environment(mosquitto)["MQTT_PASSWORD"].startswith("${MQTT_PASSWORD:?")
    health = mosquitto["healthcheck"]["test"][1]
    assert '-u "$$MQTT_USER" -P "$$MQTT_PASSWORD"' in health
    url = interpolate(environment(services["notifier"])["DETEKTOR_MQTT_URL"], TEST_SECRETS)
    assert url == f"mqtt://detektor:{TEST_SECRETS['MQTT_PASSWORD']}@mosquitto:1883"


def test_every_variable_is_in_env_example() -> None:
    texts = [value for path in COMPOSE_FILES for _, value in strings(load_yaml(path))]
    assert env_example_problems(texts, ENV_EXAMPLE.read_text(encoding="utf-8")) == []


def test_persistent_data_lives_in_named_volumes(services: dict[str, Any]) -> None:
    for name, target in PERSISTENT.items():
        assert target in {t for _, t in named_volumes(services[name])}, name


def test_capture_writes_the_recordings_volume_and_tracking_reads_it(
    services: dict[str, Any],
) -> None:
    target = "/var/lib/detektor/recordings"
    raw = load_stack(COMPOSE_FILES[:1])["services"]
    capture_mounts = raw["capture"]["volumes"]
    tracking_mounts = raw["tracking"]["volumes"]
    assert f"recordings:{target}" in capture_mounts  # read-write
    assert f"recordings:{target}:ro" in tracking_mounts
    assert ("recordings", target) in set(named_volumes(services["capture"]))
    assert "recordings" in load_stack(COMPOSE_FILES[:1])["volumes"]
    for name in ("capture", "tracking"):
        assert environment(services[name])["DETEKTOR_RECORDINGS__ROOT"] == target
    # The recording index is in the event store's database: capture talks to PostgreSQL.
    database = environment(services["capture"])["DETEKTOR_DATABASE_URL"]
    assert database == environment(services["tracking"])["DETEKTOR_DATABASE_URL"]
    assert services["capture"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    # The image creates the mount point owned by the service's user, so a fresh named volume
    # is writable by uid 10001.
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"install -d -o detektor -g detektor -m 0750 [^\n]*" + target, dockerfile)


def test_redis_keeps_the_streams(services: dict[str, Any]) -> None:
    command = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command


def test_the_detektor_services_run_the_one_image(services: dict[str, Any]) -> None:
    base = load_stack(COMPOSE_FILES[:1])["services"]
    for name in APP_SERVICES:
        assert base[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert base[name]["image"] == base["capture"]["image"]
        assert services[name]["command"] == ["serve", name]
        assert "jaeger:4318" in environment(services[name])["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert (ROOT / "deploy" / "Dockerfile").is_file()
    assert (ROOT / ".dockerignore").is_file()


def test_the_healthcheck_of_the_image_is_valid_python(services: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        test = services[name]["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "-c"], name
        compile(test[3], f"{name} healthcheck", "exec")
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^HEALTHCHECK .*\n\s+CMD \[\"python\"", dockerfile, re.MULTILINE)
    assert re.search(r"^USER (?!root|0\b)", dockerfile, re.MULTILINE)
    assert 'ENTRYPOINT ["detektor"]' in dockerfile


def test_the_gpu_file_reserves_the_gpu_for_the_detector(services: dict[str, Any]) -> None:
    gpu = load_yaml(COMPOSE_FILES[1])["services"]
    devices = gpu["detector"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert gpu["detector"]["build"]["args"]["GPU"] == "true"
    assert services["dcgm-exporter"]["deploy"]["resources"]["reservations"]["devices"]


def test_the_canary_camera_is_configured(services: dict[str, Any]) -> None:
    capture = services["capture"]
    config = environment(capture)["DETEKTOR_CONFIG"]
    mounted = {target: host_path(source) for source, target in bind_mounts(capture)}
    cameras = load_yaml(mounted[config])["cameras"]
    sources = {c["name"]: c["source"] for c in cameras}
    assert sources.get("canary", "").startswith("synthetic://"), sources


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_each_service_gets_valid_detektor_settings(
    services: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The settings reject unknown DETEKTOR_* names, so a typo in compose.yml fails here."""
    svc = services[name]
    mounted = {target: str(host_path(source)) for source, target in bind_mounts(svc)}
    for key in list(os.environ):
        if key.startswith(("DETEKTOR_", "OTEL_")):
            monkeypatch.delenv(key)
    for key, value in environment(svc).items():
        value = interpolate(value, TEST_SECRETS)
        monkeypatch.setenv(key, mounted.get(value, value))
    try:
        settings = load_settings()
    except ConfigError as exc:
        pytest.fail(f"{name}: {exc}")
    assert settings.api_token is not None
    assert [c.name for c in settings.cameras][:1] == ["canary"]
    if name == "tracking":
        assert settings.database_url.get_secret_value().startswith("postgresql://")
        assert settings.jaeger_ui_url
        assert settings.alertmanager_url == "http://alertmanager:9093"


def test_dashboards_are_valid_json_with_unique_uids_and_provisioned_datasources() -> None:
    boards = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in DASHBOARDS.glob("*")}
    assert set(boards) == {
        "pipeline-overview.json", "frame-journey.json", "detector-gpu.json",
        "red-services.json", "infrastructure.json",
    }  # fmt: skip
    assert dashboard_problems(boards, provisioned_datasources()) == []


def test_grafana_is_provisioned_from_mounted_files(services: dict[str, Any]) -> None:
    grafana = dict((target, host_path(src)) for src, target in bind_mounts(services["grafana"]))
    providers = load_yaml(GRAFANA / "provisioning" / "dashboards" / "dashboards.yml")
    for provider in providers["providers"]:
        assert grafana.get(provider["options"]["path"]) == DASHBOARDS.resolve()
    assert grafana["/etc/grafana/provisioning/datasources"] == DATASOURCES.parent.resolve()
    types = set(provisioned_datasources().values())
    assert {"prometheus", "jaeger", "loki"} <= types
    loki = next(d for d in load_yaml(DATASOURCES)["datasources"] if d["type"] == "loki")
    derived = loki["jsonData"]["derivedFields"]
    assert any(f["datasourceUid"] == "jaeger" and "trace_id" in f["matcherRegex"] for f in derived)
    line = json.dumps({"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"})  # as the kit logs
    assert re.search(derived[0]["matcherRegex"], line)


def test_datasources_and_scrape_targets_name_compose_services(
    services: dict[str, Any],
) -> None:
    urls = {f"datasource {d['uid']}": d["url"] for d in load_yaml(DATASOURCES)["datasources"]}
    prometheus = load_yaml(PROMETHEUS_CONFIG)
    for job in prometheus["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                if not target.startswith("localhost:"):
                    urls[f"job {job['job_name']}"] = f"http://{target}"
        for dns in job.get("dns_sd_configs", []):
            for host in dns["names"]:
                urls[f"job {job['job_name']}"] = f"http://{host}"
    for am in prometheus["alerting"]["alertmanagers"]:
        for static in am["static_configs"]:
            for target in static["targets"]:
                urls[f"alertmanager {target}"] = f"http://{target}"
    assert url_host_problems(urls, services) == []
    jobs = {job["job_name"] for job in prometheus["scrape_configs"]}
    assert APP_SERVICES | {"dcgm"} <= jobs


def test_every_exporter_metric_names_its_exporter() -> None:
    lines = (DEPLOY / "observability" / "exporter-metrics.txt").read_text().splitlines()
    known = {"prometheus", "alertmanager", "prometheus-client", "node-exporter", "cadvisor",
             "postgres-exporter", "redis-exporter", "dcgm-exporter"}  # fmt: skip
    for line in (raw.split("#", 1)[0].strip() for raw in lines):
        if not line:
            continue
        metric, exporter = line.split()
        assert re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", metric), line
        assert not metric.startswith("detektor_"), line
        assert exporter in known, line


# --- the checks can fail ---------------------------------------------------------------------


def test_the_checks_find_broken_services() -> None:
    broken = {
        "web": {"restart": "no", "depends_on": ["db"], "ports": ["8080:80"]},
        "db": {"logging": {"driver": "json-file"}, "ports": ["0.0.0.0:8080:5432"]},
        "a": {"depends_on": {"b": {"condition": "service_started"}}},
        "b": {"depends_on": {"a": {"condition": "service_healthy"}, "ghost": {}}},
    }
    problems = "\n".join(service_problems(broken) + dependency_problems(broken))
    for expected in (
        "web: no healthcheck",
        "web: restart is 'no'",
        "db: logs are not rotated",
        "web: no CPU and memory limits",
        "web: depends_on is a list",
        "a: does not wait for b to be healthy",
        "b: depends on ghost, which is not a service",
        "dependency cycle: a -> b -> a",
    ):
        assert expected in problems
    assert port_problems(broken) == ["host port 8080/tcp: published by web and db"]
    profiled = {
        "app": {"image": "redis:7", "depends_on": {"ui": {"condition": "service_healthy"}}},
        "ui": {"image": "${UI_IMAGE:-ui:1}", "profiles": ["full"], "depends_on": {"app": {}}},
    }
    exposed = {
        "prom": {"command": ["--web.enable-lifecycle"], "ports": ["9090:9090"]},
        "am": {"ports": ["${BIND_ADDRESS:-0.0.0.0}:9093:9093"]},
        "notifier": {"environment": {"DETEKTOR_MQTT_URL": "mqtt://mosquitto:1883"}},
    }
    assert exposure_problems(exposed) == [
        "prom: publishes a port on every interface by default",
        "am: publishes a port on 0.0.0.0 by default",
        "prom: --web.enable-lifecycle lets anyone POST /-/quit",
        "notifier: DETEKTOR_MQTT_URL 'mqtt://mosquitto:1883' carries no MQTT_PASSWORD",
    ]
    assert default_password_problems(["${MQTT_PASSWORD:-changeme} ${MQTT_USER:-me}"]) == [
        "${MQTT_PASSWORD:-changeme}: a secret with a default"
    ]
    assert profile_problems(profiled) == ["app: in the core but depends on ui (profiles ['full'])"]
    assert image_problems(profiled) == [
        "app: image 'redis:7' is not a ${..._IMAGE:-default} variable"
    ]


def test_the_checks_find_hard_coded_secrets_and_missing_files() -> None:
    compose = {
        "services": {
            "db": {
                "environment": {
                    "POSTGRES_PASSWORD": "hunter2",
                    "API_TOKEN": "${TOKEN:-changeme}",
                    "URL": "postgresql://u:hunter2@db/x",
                    "OK_PASSWORD": "${PASSWORD:?set it}",
                },
                "volumes": ["./nowhere.yml:/etc/x.yml:ro", "data:/data", "/etc:/host-etc"],
            },
            "prom": {
                "command": ["--config.file=/etc/prometheus/missing.yml"],
                "volumes": ["./observability/prometheus:/etc/prometheus:ro"],
            },
        },
        "volumes": {},
    }
    secrets = "\n".join(secret_problems(compose))
    assert "POSTGRES_PASSWORD" in secrets
    assert "API_TOKEN" in secrets
    assert "the password in a URL" in secrets
    assert "OK_PASSWORD" not in secrets
    mounts = "\n".join(mount_problems(compose))
    assert "mounts ./nowhere.yml, which does not exist" in mounts
    assert "uses the volume data, not declared" in mounts
    assert "mounts the host path /etc, not allowed" in mounts
    files = referenced_file_problems(compose["services"])
    assert any("/etc/prometheus/missing.yml" in p for p in files)
    example = "PASSWORD=\nSECRET_TOKEN=abc\n# OPTIONAL=1\n"
    env = env_example_problems(["${PASSWORD:?x} ${OTHER} ${OPTIONAL:?y}"], example)
    assert env == [
        "${OTHER} is not in .env.example",
        "OPTIONAL is required but commented out in .env.example",
        ".env.example gives SECRET_TOKEN a value; leave secrets empty",
    ]


def test_the_checks_find_broken_dashboards() -> None:
    prom = {"type": "prometheus", "uid": "prometheus"}
    boards = {
        "a.json": {"uid": "x", "panels": [{"type": "timeseries", "datasource": prom}]},
        "b.json": {"uid": "x", "panels": [{"type": "stat", "targets": []}]},
        "c.json": {"uid": "c", "panels": [{"type": "graph", "datasource": {"uid": "gone"}}]},
        "d.json": {"uid": "d", "panels": [{"type": "logs", "datasource": "Loki"}]},
    }
    problems = "\n".join(dashboard_problems(boards, {"prometheus": "prometheus"}))
    assert "b.json: uid x is also the uid of a.json" in problems
    assert "b.json: panel None names no datasource" in problems
    assert "c.json: datasource {'uid': 'gone'} is not provisioned" in problems
    assert "d.json: datasource 'Loki' is not provisioned" in problems
    assert url_host_problems({"ds": "http://nowhere:9090"}, {"prometheus": {}}) == [
        "ds: http://nowhere:9090 is not a compose service"
    ]


def test_interpolation_follows_compose() -> None:
    env = {"SET": "v", "EMPTY": ""}
    text = "${SET} $SET ${EMPTY:-d} ${EMPTY-d} ${UNSET-d} $$SYS"
    assert interpolate(text, env) == "v v d  d $SYS"
    with pytest.raises(KeyError, match="UNSET: give it"):
        interpolate("${UNSET:?give it}", env)
