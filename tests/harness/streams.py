"""Reading and writing a node's streams in tests as nodes do: addressed events travel sealed
between their two nodes, opened here with the nodes' seeds."""

from __future__ import annotations

import json

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from corridor_contracts import Envelope, Sealer, Signer, sealing_key_of


async def stream_messages(js: JetStreamContext, stream: str):
    """Every message a stream holds, in order (erased ones leave gaps in the sequence)."""
    state = (await js.stream_info(stream)).state
    found = []
    for seq in range(state.first_seq, state.last_seq + 1) if state.messages else ():
        try:
            found.append(await js.get_msg(stream, seq))
        except NotFoundError:
            continue
    return found


def _sealer(node: str, seeds: dict[str, bytes]) -> Sealer:
    return Sealer(node, seeds[node], {n: sealing_key_of(s) for n, s in seeds.items()})


def opened(data: bytes, seeds: dict[str, bytes]) -> dict:
    """The wire object of a message; a sealed payload opened as its target (whose seed is in `seeds`)."""
    wire = json.loads(data)
    if not wire.get("sealed"):
        return wire
    return _sealer(wire["target"], seeds).open(Envelope.model_validate(wire)).to_wire()


def shared(envelope: Envelope, seeds: dict[str, bytes]) -> Envelope:
    """An envelope as its origin sends it: an addressed one sealed for its target, then signed."""
    if envelope.target is not None:
        envelope = _sealer(envelope.origin, seeds).seal(envelope)
    return Signer(seeds[envelope.origin]).sign(envelope)
