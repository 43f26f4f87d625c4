"""The deployment examples work as their comments say: the compose file's set-up steps succeed in order on a
fresh copy of the repository's deploy files, and leave what compose refers to; the image's user owns what the
services write; nats-server accepts its configs; each nats-server has a healthcheck that answers."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
import yaml
from corridor_runtime.nats_server import NatsServer, find_binary, free_port
from corridor_runtime.registry_file import load_registry

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
ENVIRONMENT = {"LEAF_FR_PASSWORD": "a", "LEAF_ES_PASSWORD": "b", "HUB_LEAF_URL": "nats-leaf://fr:a@hub:7422"}
BIN = Path(sys.executable).parent
CORRIDOR = BIN / "corridor"


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _compose_services() -> dict:
    return _compose()["services"]


def set_up_steps() -> list[str]:
    """The set-up commands of the compose file's opening comment, in order."""
    lines = (ROOT / "docker-compose.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# Set-up"))
    steps = []
    for line in lines[start + 1:]:
        if not line.startswith("#   "):
            break
        steps.append(line.removeprefix("#   ").strip())
    return steps


def _fresh_copy(destination: Path) -> Path:
    """What a fresh clone holds of the deployment: the files git tracks (or will), none it ignores."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "deploy", "docker-compose.yml"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.splitlines()
    for name in listed:
        if (ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)
    return destination


class SetUp:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.skipped: list[str] = []


@pytest.fixture(scope="module")
def set_up(tmp_path_factory) -> SetUp:
    """The set-up steps run in order, each in a shell, in a fresh copy; `corridor` is this environment's."""
    done = SetUp(_fresh_copy(tmp_path_factory.mktemp("clone")))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    for step in set_up_steps():
        if step.startswith("sudo "):
            if os.geteuid() != 0:  # nothing here may ask for a password
                done.skipped.append(step)
                continue
            step = step.removeprefix("sudo ")
        ran = subprocess.run(["bash", "-euo", "pipefail", "-c", step], check=False, cwd=done.root, env=env, capture_output=True,
                             text=True, timeout=120)
        assert ran.returncode == 0, f"set-up step failed: {step}\n{ran.stdout}{ran.stderr}"
    return done


def test_the_set_up_starts_from_a_fresh_clone_with_no_registry_and_no_secrets():
    steps = set_up_steps()
    assert steps and steps[0].startswith("corridor registry add --node-id fr")
    tracked = subprocess.run(["git", "ls-files", "deploy/corridor.yaml", "deploy/secrets", ".env"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    assert tracked == "", "keys, secrets and passwords of a deployment are never committed: " + tracked
    for made in ("deploy/corridor.yaml", "deploy/secrets/fr.seed", ".env"):
        ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", made], check=False, cwd=ROOT)
        assert ignored.returncode == 0, f"{made} is not ignored by git"


def test_the_set_up_lists_both_nodes_with_their_own_keys(set_up):
    registry = load_registry(set_up.root / "deploy" / "corridor.yaml")
    leaves = {p.stem.removeprefix("leaf-") for p in (set_up.root / "deploy" / "nats").glob("leaf-*.conf")}
    assert {n.id for n in registry.nodes} == leaves == {"fr", "es"}
    # Readable by the services' user, whoever made it: it holds public keys only.
    assert (set_up.root / "deploy" / "corridor.yaml").stat().st_mode & 0o004
    from corridor_contracts import PartnerNode

    for node in registry.nodes:
        seed = (set_up.root / "deploy" / "secrets" / f"{node.id}.seed").read_bytes().strip()
        own = PartnerNode.of_seed(seed, id=node.id, name=node.name, country=node.country)
        assert (own.public_key, own.sealing_key) == (node.public_key, node.sealing_key)


def test_the_hub_config_is_the_one_generated_from_the_set_up_registry(set_up):
    generated = subprocess.run([str(CORRIDOR), "registry", "hub-config", "--registry-file",
                                str(set_up.root / "deploy" / "corridor.yaml")],
                               capture_output=True, text=True, timeout=60, check=True).stdout
    assert (DEPLOY / "nats" / "hub.conf").read_text() == generated, "run: corridor registry hub-config > deploy/nats/hub.conf"


def test_the_set_up_leaves_every_file_the_compose_file_refers_to(set_up):
    compose = yaml.safe_load((set_up.root / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        for env_file in [service["env_file"]] if "env_file" in service else []:
            assert (set_up.root / env_file).is_file(), (name, env_file)
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (set_up.root / source).is_file(), (name, source)  # a missing one becomes a directory
        if "build" in service:
            assert (set_up.root / service["build"]["dockerfile"]).is_file()
    for name, secret in compose["secrets"].items():
        assert (set_up.root / secret["file"]).is_file(), (name, secret)
        assert (set_up.root / secret["file"]).stat().st_mode & 0o077 == 0, f"{name} is readable by others"
    assert (set_up.root / ".env").read_text().count("_PASSWORD=") == 2


def test_the_secrets_are_given_to_the_services_user(set_up):
    uid, _ = _image_user()
    chown = [s for s in set_up_steps() if re.search(r"\bchown\b", s)]
    assert chown and f"{uid}:" in chown[0], f"the set-up must give the secrets to uid {uid}: {chown}"
    if set_up.skipped:
        pytest.skip(f"not root here, so not run: {set_up.skipped}")
    for secret in (set_up.root / "deploy" / "secrets").iterdir():
        assert secret.stat().st_uid == uid, secret


def test_docker_compose_accepts_the_compose_file_after_the_set_up(set_up):
    """Debian's docker-compose validates the file (no Docker engine needed for `config`)."""
    compose = shutil.which("docker-compose")
    if compose is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is missing: .ci/run installs Debian's package")
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEAF_")}
    done = subprocess.run([compose, "config", "-q"], check=False, capture_output=True, text=True, timeout=120, env=clean,
                          cwd=set_up.root)
    assert done.returncode == 0, done.stderr + done.stdout
    # Without the hub passwords compose refuses to start, rather than use a default one.
    (set_up.root / ".env").rename(set_up.root / "env.saved")
    try:
        done = subprocess.run([compose, "config", "-q"], check=False, capture_output=True, text=True, timeout=120, env=clean,
                              cwd=set_up.root)
        assert done.returncode != 0 and "LEAF_FR_PASSWORD" in done.stderr + done.stdout
    finally:
        (set_up.root / "env.saved").rename(set_up.root / ".env")


# --- the image ------------------------------------------------------------------------------------------

def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _shell_commands(run: str) -> list[list[str]]:
    return [shlex.split(part) for part in re.split(r"&&|;", run) if part.strip()]


def _image_user() -> tuple[int, int]:
    users = [argument for instruction, argument in _dockerfile_instructions() if instruction == "USER"]
    assert users, "the image runs as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and gid.isdigit(), f"USER {users[-1]}: numeric uid:gid, so runAsNonRoot-style checks can see it"
    return int(uid), int(gid)


def _image_paths() -> tuple[list[PurePosixPath], list[PurePosixPath]]:
    """Folders the image makes, and folders (recursively) given to the image's user."""
    uid, gid = _image_user()
    made, owned = [], []
    for instruction, argument in _dockerfile_instructions():
        if instruction != "RUN":
            continue
        for words in _shell_commands(argument):
            if words[:1] == ["mkdir"]:
                made += [PurePosixPath(w) for w in words[1:] if not w.startswith("-")]
            if words[:1] == ["chown"] and "-R" in words:
                owner, *paths = [w for w in words[1:] if not w.startswith("-")]
                if owner in (f"{uid}:{gid}", str(uid)):
                    owned += [PurePosixPath(p) for p in paths]
    return made, owned


def _written_paths() -> dict[str, set[PurePosixPath]]:
    """Per service built from the image: where it writes (its data dir, Maildir, named volumes)."""
    written = {}
    for name, service in _compose_services().items():
        if "build" not in service:
            continue
        env = {}
        if "env_file" in service:
            for line in (ROOT / service["env_file"]).read_text().splitlines():
                if line and not line.startswith("#"):
                    key, _, value = line.partition("=")
                    env[key] = value
        env.update(service.get("environment") or {})
        paths = {PurePosixPath(env[k]) for k in ("CORRIDOR_DATA_DIR", "CORRIDOR_NOTIFY_MAILDIR") if env.get(k)}
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if not source.startswith((".", "/")):
                paths.add(PurePosixPath(target))
        written[name] = paths
    return written


def test_the_image_runs_as_a_fixed_unprivileged_user():
    uid, gid = _image_user()
    assert uid >= 1000 and gid >= 1000 and uid != 65534, "a fixed uid of its own, not root and not nobody"


def test_the_images_user_owns_every_path_the_services_write():
    made, owned = _image_paths()
    written = _written_paths()
    assert written and all(written.values())
    assert any(p == PurePosixPath("/var/lib/corridor/maildir") for paths in written.values() for p in paths)
    for service, paths in written.items():
        for path in paths:
            # The path exists in the image (a named volume mounted there takes the owner of the folder it covers) ...
            assert any(path == m or path in m.parents for m in made), (service, str(path), "not made in the image")
            # ... and belongs to the services' user.
            assert any(path == o or o in path.parents for o in owned), (service, str(path), "not owned by the image's user")


# --- nats ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("config", sorted((DEPLOY / "nats").glob("*.conf")), ids=lambda p: p.name)
def test_nats_server_accepts_the_config(config):
    done = subprocess.run([str(find_binary()), "-t", "-c", str(config)], check=False, capture_output=True, text=True,
                          env=ENVIRONMENT, timeout=30)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "is valid" in done.stderr + done.stdout


def test_leaf_configs_keep_node_subjects_on_the_node():
    for config in [*(DEPLOY / "nats").glob("leaf-*.conf"), *(DEPLOY / "nats").glob("cluster-*.conf")]:
        node = config.stem.removeprefix("leaf-").removeprefix("cluster-").split("-")[0]
        assert f'deny_exports: ["node.{node}.>", "deadletter.{node}.>", "status.{node}.>", "replay.{node}.>"]' in config.read_text()


def test_the_node_services_wait_for_a_healthy_nats_server_and_streams():
    services = _compose_services()
    for name, service in services.items():
        if name.startswith("streams-"):
            node = name.removeprefix("streams-")
            assert service["depends_on"] == {f"nats-{node}": {"condition": "service_healthy"}}
            assert "--wait" in service["command"], "provisioning waits (bounded) for its nats-server"
        if name == "hub" or name.startswith("nats-"):
            assert service["image"].endswith("-alpine") and service["healthcheck"]["test"][:2] == ["CMD", "wget"], name


@pytest.mark.nats
@pytest.mark.parametrize("name", ["hub", "nats-fr"])
def test_the_nats_healthcheck_answers_for_a_running_server_only(tmp_path, name):
    """The healthcheck's own command, pointed at a real nats-server of that kind on this machine."""
    if shutil.which("wget") is None:
        pytest.skip("no wget here to run the healthcheck with")
    test = _compose_services()[name]["healthcheck"]["test"]
    server = NatsServer(name=name, store_dir=tmp_path / name, jetstream=name != "hub", domain=None if name == "hub" else "fr",
                        leafnode_port=free_port() if name == "hub" else None)
    command = [w.replace("127.0.0.1:8222", f"127.0.0.1:{server.monitor_port}") for w in test[1:]]
    with server:
        assert subprocess.run(command, check=False, capture_output=True, timeout=30).returncode == 0
    assert subprocess.run(command, check=False, capture_output=True, timeout=30).returncode != 0


# --- commands and settings ------------------------------------------------------------------------------

def test_every_command_of_the_compose_file_exists_in_the_code():
    from corridor_runtime.cli import app
    from typer.main import get_command

    cli = get_command(app)
    for name, service in _compose_services().items():
        command = service.get("command")
        if command is None or name == "hub" or name.startswith("nats-"):
            continue
        if command[:2] == ["python", "-m"]:
            assert importlib.util.find_spec(f"{command[2]}.__main__") is not None, (name, command)
        else:
            assert command[0] == "corridor", (name, command)
            group = cli
            words = command[1:]
            while words and not words[0].startswith("-"):
                group = group.commands[words.pop(0)]  # KeyError: no such subcommand
            assert group.callback is not None, (name, command)
            options = {o for p in group.params for o in p.opts}
            assert {w for w in words if w.startswith("-")} <= options, (name, command)


def test_every_corridor_variable_the_deployment_sets_is_a_setting():
    from corridor_notifications.settings import NotificationSettings
    from corridor_reporting.bootstrap import ReportingSettings
    from corridor_runtime.settings import NodeSettings

    known = {f"CORRIDOR_{f.upper()}" for f in NodeSettings.model_fields}
    known |= {f"CORRIDOR_NOTIFY_{f.upper()}" for f in NotificationSettings.model_fields}
    known |= {f"CORRIDOR_REPORTING_{f.upper()}" for f in ReportingSettings.model_fields}
    known |= {"CORRIDOR_STREAM_REPLICAS", "CORRIDOR_NODE_CONFIG"}  # options of `corridor streams provision` / `up`
    used = set()
    for env_file in (DEPLOY / "env").glob("*.env"):
        used |= {line.split("=", 1)[0] for line in env_file.read_text().splitlines() if line and not line.startswith("#")}
    for service in _compose_services().values():
        used |= set((service.get("environment") or {}).keys()) if isinstance(service.get("environment"), dict) else set()
    corridor_variables = {v for v in used if v.startswith("CORRIDOR_")}
    assert corridor_variables and corridor_variables <= known, sorted(corridor_variables - known)
    cli_source = (ROOT / "runtime" / "src" / "corridor_runtime" / "cli.py").read_text()
    assert 'envvar="CORRIDOR_STREAM_REPLICAS"' in cli_source and 'envvar="CORRIDOR_NODE_CONFIG"' in cli_source
