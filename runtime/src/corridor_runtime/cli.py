"""The operator command line: `corridor --help`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import nats
import typer
from rich.markup import escape
from rich.table import Table

from . import access_cli
from . import migrate_cli
from . import dead_letters as dl
from . import node as node_runner
from .preflight import check_node
from .registry_file import ConfigError, load_registry
from .terminal import operator_console

# A traceback's local variables can hold a password or a seed: never print them.
app = typer.Typer(help="Operate a node of the SMART volunteering corridor.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
letters = typer.Typer(help="Dead letters: list, show, replay, discard.", no_args_is_help=True)
app.add_typer(letters, name="dead-letters")
streams = typer.Typer(help="The node's JetStream streams.", no_args_is_help=True)
registry_app = typer.Typer(help="The corridor registry: partner nodes and their public keys.", no_args_is_help=True)
app.add_typer(registry_app, name="registry")
app.add_typer(streams, name="streams")
app.add_typer(access_cli.users, name="users")
app.add_typer(access_cli.tokens, name="tokens")
app.add_typer(access_cli.audit, name="audit")
app.command("migrate")(migrate_cli.migrate)
console = operator_console()


def fail(message: object) -> None:
    """An error as the operator must read it: config and user text printed literally (a pattern such
    as `[a-z]` is not rich markup), on one line however long."""
    console.print(f"[red]error:[/red] {escape(str(message))}", soft_wrap=True)


def cells(*values: object) -> list[str]:
    """Table cells from stream, log or config text, shown as they are."""
    return [escape(str(v)) for v in values]


@app.command("node")
def node(
    node_id: str = typer.Option("demo", help="the node's id (also its JetStream domain)"),
    name: str = typer.Option("Demo partner", help="the partner's display name, for a new registry"),
    country: str = typer.Option("FR", help="the partner's ISO country code, for a new registry"),
    data_dir: Path = typer.Option(Path("var"), help="where the node keeps its files"),
    nats_port: int | None = typer.Option(None, help="client port of the node's nats-server (default: a free one)"),
    keep_running: bool = typer.Option(False, "--keep-running", help="keep the node up after the health report"),
) -> None:
    """Start a node on the embedded default (nats-server, SQLite, four services) and report its health."""
    from corridor_contracts import PartnerNode, new_node_seed
    from pydantic import ValidationError

    from .validation import describe

    try:  # its entry's fields, before a folder or a key is made for it
        PartnerNode.of_seed(new_node_seed(), id=node_id, name=name, country=country)
    except ValidationError as error:
        fail(describe(error))
        raise typer.Exit(2) from None
    try:
        code = asyncio.run(node_runner.run(data_dir=data_dir, node_id=node_id, name=name, country=country,
                                           keep_running=keep_running, nats_port=nats_port, console=console))
    except (ConfigError, ValueError) as error:
        fail(error)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


@app.command("up")
def up(
    config: Path = typer.Option(..., "--config", "-c", envvar="CORRIDOR_NODE_CONFIG", help="the node's config file (TOML, see deploy/nodes/)"),
    keep_running: bool = typer.Option(True, "--keep-running/--check", help="stay up (default), or stop after the health report"),
) -> None:
    """Run one real partner node from its config file: nats-server as a leaf of the hub, streams, four services."""
    try:
        node_config = node_runner.NodeConfig.load(config)
        check_node(node_config)  # before anything is created
        code = asyncio.run(node_runner.up(node_config, keep_running=keep_running, console=console))
    except ConfigError as error:
        fail(error)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


@app.command("demo")
def demo(
    data_dir: Path = typer.Option(Path("var/demo"), help="where the demo corridor keeps its files (emptied first)"),
    keep_running: bool = typer.Option(False, "--keep-running", help="keep the corridor up after the report"),
    seed: int = typer.Option(1, help="draws the demo's people and roles: the same seed, the same corridor and report"),
) -> None:
    """A demo corridor on this machine: a hub and three partner nodes, seeded, the saga run, the report."""
    from . import demo as demo_runner

    raise typer.Exit(asyncio.run(demo_runner.run(data_dir=data_dir, keep_running=keep_running, seed=seed,
                                                 console=console)))


NATS_URL = typer.Option("nats://127.0.0.1:4222", envvar="CORRIDOR_NATS_URL", help="the node's nats-server")


async def _with_js(url: str, work):
    nc = await nats.connect(url, max_reconnect_attempts=1)
    try:
        return await work(nc.jetstream())
    finally:
        await nc.close()


@letters.command("list")
def list_dead_letters(nats_url: str = NATS_URL, limit: int = typer.Option(100)) -> None:
    """The dead letters of this node with their reasons, oldest first."""
    found = asyncio.run(_with_js(nats_url, lambda js: dl.read_all(js, limit=limit)))
    table = Table(title=f"{len(found)} dead letters")
    for column in ("seq", "when", "consumer", "original subject", "deliveries", "reason"):
        table.add_column(column)
    for letter in found:
        table.add_row(*cells(letter.sequence, f"{letter.time:%Y-%m-%d %H:%M:%S}" if letter.time else "-", letter.consumer,
                            letter.original_subject, letter.deliveries, letter.reason))
    console.print(table)


@letters.command("show")
def show_dead_letter(sequence: int, nats_url: str = NATS_URL) -> None:
    """One dead letter: where it came from, why, and its bytes."""
    found = asyncio.run(_with_js(nats_url, lambda js: dl.read_all(js, limit=100_000)))
    letter = next((x for x in found if x.sequence == sequence), None)
    if letter is None:
        console.print(f"[red]no dead letter {sequence}[/red]")
        raise typer.Exit(1)
    console.print_json(json.dumps({k: v for k, v in vars(letter).items() if k != "data"}, default=str))
    console.print(letter.data.decode(errors="replace"), markup=False, highlight=False)


@letters.command("replay")
def replay_dead_letter(sequence: int, nats_url: str = NATS_URL) -> None:
    """Publish a dead letter to its original subject again (after a fix) and remove it."""
    async def ask():
        nc = await nats.connect(nats_url, max_reconnect_attempts=1)
        try:
            return await dl.replay(nc, nc.jetstream(), sequence)
        finally:
            await nc.close()
    try:
        answer = asyncio.run(ask())
    except dl.ReplayError as error:
        fail(f"{error}; the dead letter stays")
        raise typer.Exit(1) from None
    state = "applied" if answer["applied"] else "already applied before (nothing changed)"
    console.print(escape(f"dead letter {sequence}: {state} by {answer['service']} ({answer['consumer']}); "
                         "removed from the dead letters"))


@letters.command("discard")
def discard_dead_letter(sequence: int, why: str = typer.Option(..., help="kept in the log"), nats_url: str = NATS_URL) -> None:
    """Remove a dead letter for good, with the reason logged."""
    asyncio.run(_with_js(nats_url, lambda js: dl.discard(js, sequence, why=why)))
    console.print(f"discarded dead letter {sequence}")


@streams.command("provision")
def provision_streams(
    node_id: str = typer.Option(..., envvar="CORRIDOR_NODE_ID"),
    registry_file: Path = typer.Option(..., envvar="CORRIDOR_REGISTRY_FILE", help="the corridor registry (YAML)"),
    nats_url: str = NATS_URL,
    replicas: int | None = typer.Option(None, min=1, max=5, envvar="CORRIDOR_STREAM_REPLICAS",
                                         help="copies of each stream (3 on a 3-server node; default: 1, or as they are)"),
    wait: float = typer.Option(0, min=0, help="seconds to wait for the nats-server to come up (0: try once)"),
) -> None:
    """Create or update LOCAL, OUT, IN (sourced from every peer in the registry) and DEADLETTER."""
    from .connection import ServerNotReady
    from .streams import provision_node

    try:
        peers = [p.id for p in load_registry(registry_file).peers_of(node_id)]
    except (ConfigError, KeyError) as error:
        fail(error)
        raise typer.Exit(2) from None
    try:
        asyncio.run(provision_node(nats_url, node_id, peers, replicas=replicas, wait=wait,
                                   waiting=lambda line: console.print(escape(line), soft_wrap=True)))
    except ServerNotReady as error:
        fail(error)
        raise typer.Exit(2) from None
    console.print(escape(f"streams of node {node_id} provisioned; IN sources from: {', '.join(peers) or 'no peers yet'}"))


@registry_app.command("add")
def registry_add(
    node_id: str = typer.Option(..., help="the new node's id (lowercase, also its JetStream domain)"),
    name: str = typer.Option(..., help="the partner's display name"),
    country: str = typer.Option(..., help="the partner's ISO country code"),
    registry_file: Path = typer.Option(Path("deploy/corridor.yaml"), help="the registry to add it to"),
    data_dir: Path = typer.Option(Path("var"), help="where the node keeps its keys (<data-dir>/<node-id>/)"),
) -> None:
    """Create a node's signing key and pseudonym secret (once, owner-only) and list it in the registry.

    Everything is checked first: bad input leaves the registry and the data folder as they were."""
    from corridor_contracts import PartnerNode, Registry, new_node_seed
    from pydantic import ValidationError

    from .preflight import read_seed
    from .registry_file import save_registry
    from .validation import describe

    def listed(seed: bytes, previous: PartnerNode | None) -> PartnerNode:
        kept = previous.model_dump(exclude={"public_key", "sealing_key"}) if previous else {"leafnode_user": node_id}
        return PartnerNode.of_seed(seed, **{**kept, "id": node_id, "name": name, "country": country})

    def with_entry(current: Registry | None, entry: PartnerNode) -> Registry:
        nodes = [entry if n.id == node_id else n for n in (current.nodes if current else [])]
        return Registry(corridor=current.corridor if current else "smart-volunteering",
                        nodes=nodes if entry in nodes else [*nodes, entry])

    try:
        listed(new_node_seed(), None)  # the entry's own fields, before any path is made from the node id
        if registry_file.is_dir():
            raise ConfigError(f"{registry_file} is a folder; give the registry's file")
        current = load_registry(registry_file) if registry_file.exists() else None
        previous = next((n for n in (current.nodes if current else []) if n.id == node_id), None)
        layout = node_runner.NodeLayout(data_dir, node_id)
        seed = read_seed(layout)
        if previous is not None and seed is None:
            raise ConfigError(f"{registry_file} lists {node_id} with another key (its seed is not in {layout.seed_file}): "
                              "give the --data-dir that holds it, or remove the node from the registry first to make new keys")
        if previous is not None and (previous.public_key, previous.sealing_key) != (
                (entry := listed(seed, previous)).public_key, entry.sealing_key):
            raise ConfigError(f"{registry_file} lists {node_id} with another key than {layout.seed_file}'s; "
                              "remove it first to rotate keys")
        with_entry(current, listed(seed or new_node_seed(), previous))  # the whole registry, as it will be written
    except ValidationError as error:
        fail(describe(error))
        raise typer.Exit(2) from None
    except ConfigError as error:
        fail(error)
        raise typer.Exit(2) from None
    try:
        entry = listed(seed or node_runner.ensure_keys(layout), previous)
        save_registry(with_entry(current, entry), registry_file)
    except OSError as error:
        fail(f"{error.filename or registry_file}: {error.strerror}")
        raise typer.Exit(2) from None
    console.print(escape(f"{node_id} ({name}, {country}) is in {registry_file} with signing key {entry.public_key} "
                         f"and sealing key {entry.sealing_key}; "
                         f"its secrets are in {data_dir / node_id}/. Give every node the new registry."), soft_wrap=True)


@registry_app.command("hub-config")
def registry_hub_config(
    registry_file: Path = typer.Option(Path("deploy/corridor.yaml"), help="the corridor registry"),
) -> None:
    """Print the hub's nats-server config for the registry: an account per partner node, with the
    rights of a corridor node and no more (deploy/nats/hub.conf is this output)."""
    from .nats_server import hub_config

    try:
        registry = load_registry(registry_file)
    except ConfigError as error:
        fail(error)
        raise typer.Exit(2) from None
    typer.echo(hub_config(registry), nl=False)


@app.command("trace")
def trace(
    correlation_id: str = typer.Argument(..., help="the journey's correlation id (a placement's is its placement id)"),
    nats_urls: list[str] = typer.Option(["nats://127.0.0.1:4222"], "--nats-url", envvar="CORRIDOR_NATS_URL",
                                        help="a node's nats-server; repeat for each node you can reach"),
    logs: list[Path] = typer.Option([], "--logs", help="a service log file or a folder of *.log (repeatable)"),
) -> None:
    """A placement's journey across services and nodes, from the nodes' streams and the services' logs."""
    from rich.table import Table

    from . import trace as tracing

    async def gather():
        steps = []
        for url in nats_urls:
            nc = await nats.connect(url, max_reconnect_attempts=1)
            try:
                js = nc.jetstream()
                node = next((n for n in (await js.stream_info("LOCAL")).config.subjects or [] if n.startswith("node.")), "node.?.>")
                steps += await tracing.from_streams(js, node.split(".")[1], correlation_id)
            finally:
                await nc.close()
        return steps

    steps = tracing.in_order([*asyncio.run(gather()), *tracing.from_logs(logs, correlation_id)])
    if not steps:
        console.print(escape(f"nothing found for {correlation_id}"))
        raise typer.Exit(1)
    table = Table(title=escape(f"journey {correlation_id}"))
    for column in ("occurred", "node", "where", "what", "origin → target", "detail"):
        table.add_column(column)
    for step in steps:
        table.add_row(*cells(step.occurred_at, step.node, step.where, step.what,
                             f"{step.origin} → {step.target}" if step.target else step.origin, step.detail))
    console.print(table)


@app.command("status")
def status(
    node_id: str = typer.Option(..., envvar="CORRIDOR_NODE_ID", help="the node to look at"),
    nats_url: str = NATS_URL,
) -> None:
    """Per service: up, consumer lag, outbox backlog, dead letters; per peer: how its events arrive."""
    from .service import status_subject

    async def gather():
        nc = await nats.connect(nats_url, max_reconnect_attempts=1)
        try:
            services = {}
            for service in node_runner.SERVICES:
                try:
                    services[service] = json.loads((await nc.request(status_subject(node_id, service), b"", timeout=2)).data)
                except Exception:
                    services[service] = None
            raw = json.loads((await nc.request("$JS.API.STREAM.INFO.IN", b"", timeout=5)).data)
            dead = json.loads((await nc.request(f"$JS.API.STREAM.INFO.{dl.STREAM}",
                                                json.dumps({"subjects_filter": f"deadletter.{node_id}.>"}).encode(),
                                                timeout=5)).data)
            return services, raw.get("sources", []), dead.get("state", {}).get("subjects", {}) or {}
        finally:
            await nc.close()

    services, sources, dead = asyncio.run(gather())
    table = Table(title=escape(f"node {node_id}: services"))
    for column in ("service", "state", "consumer", "stream", "lag", "unacked", "outbox backlog", "dead letters"):
        table.add_column(column)
    for service, answer in services.items():
        letters = sum(count for subject, count in dead.items() if subject.split(".")[2] == service)
        if answer is None:
            table.add_row(service, "[red]down[/red]", *cells("-", "-", "-", "-", "-", letters))
            continue
        state = "[red]failing[/red]" if answer.get("failing") else "[green]up[/green]"
        consumers = answer.get("consumers") or [{}]
        for i, consumer in enumerate(consumers):
            table.add_row(service if i == 0 else "", state if i == 0 else "",
                          *cells(consumer.get("name", "-"), consumer.get("stream", "-"), consumer.get("pending", "-"),
                                 consumer.get("ack_pending", "-"), answer.get("outbox_backlog") if i == 0 else "",
                                 letters if i == 0 else ""))
    console.print(table)
    for service, answer in services.items():
        for what, why in ((answer or {}).get("failing") or {}).items():
            console.print(escape(f"{service} is failing ({what}): {why}"), style="red", soft_wrap=True)
    peers = Table(title=escape(f"node {node_id}: what arrives from the corridor (IN's sources)"))
    for column in ("from", "events", "lag", "last active", "error"):
        peers.add_column(column)
    for source in sources:
        api = (source.get("external") or {}).get("api", "")
        origin = api.split(".")[1] if api.startswith("$JS.") else node_id + " (itself)"
        active = source.get("active", -1)
        peers.add_row(*cells(origin, source.get("filter_subject", ""), source.get("lag", 0),
                             "never" if active is None or active < 0 else f"{active / 1e9:.1f} s ago",
                             (source.get("error") or {}).get("description", "")))
    console.print(peers)
