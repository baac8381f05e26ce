"""Federated MST on Flower: a ``ClientApp`` that answers measurement requests, a ``ServerApp`` that fits.

The messages carry exactly what :class:`~dpsynth.federated.mst.InProcessFederation` carries:
the server sends a JSON request (which marginals, the noise σ, the round, public coarsening
maps) in a ``ConfigRecord``; each client answers with its masked, noise-shared counts in an
``ArrayRecord``. Our code decides what a client may send; Flower only carries it.

Three ways to run it:

* :func:`run_in_process`: calls the same ``ClientApp`` and server logic through Flower's
  ``Message``/``Context`` objects in this process (no Ray; what the tests use, seconds);
* :func:`run_flower_simulation`: Flower's Simulation Engine (``flwr.simulation.run_simulation``,
  on Ray);
* ``flower-superlink`` / ``flower-supernode`` processes: :func:`client_app` / :func:`server_app`
  are ordinary Flower apps.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dpsynth.data.domain import Domain
from dpsynth.errors import InvalidParameterError
from dpsynth.federated.mst import FedClient, FederatedMST
from dpsynth.federated.protocol import pairwise_seeds
from dpsynth.privacy import PrivacyBudget
from dpsynth.privacy.random import RandomState, make_rng

MESSAGE_TYPE = "query.measure"


def _flwr() -> Any:
    try:
        import flwr  # noqa: F401
        from flwr import app as flwr_app
    except ImportError:
        raise InvalidParameterError(
            "Federated synthesis on Flower needs the 'flwr' package: pip install 'dpsynth[federated]'."
        ) from None
    return flwr_app


def client_app(partitions: Sequence[pd.DataFrame], domain: Domain, *, random_state: RandomState = None) -> Any:
    """A Flower ``ClientApp`` whose node ``partition-id`` holds ``partitions[partition-id]``.

    The pairwise secure-aggregation seeds are set up here (standing for a key agreement
    between the clients; the server never gets them).
    """
    flwr_app = _flwr()
    from flwr.clientapp import ClientApp

    seeds = pairwise_seeds(len(partitions))
    rng = make_rng(random_state) if random_state is not None else None
    client_seeds = [None if rng is None else int(rng.integers(2**62)) for _ in partitions]
    clients: dict[int, FedClient] = {}
    app = ClientApp()

    @app.query("measure")
    def measure(message: Any, context: Any) -> Any:
        pid = int(context.node_config["partition-id"])
        if pid not in clients:
            clients[pid] = FedClient(partitions[pid], domain, pid, seeds[pid], random_state=client_seeds[pid])
        request = json.loads(str(message.content["request"]["json"]))
        vec = clients[pid].handle(request)
        reply = flwr_app.RecordDict({"masked": flwr_app.ArrayRecord([vec])})
        return flwr_app.Message(reply, reply_to=message)

    return app


class FlowerFederation:
    """The server's federation over a Flower ``Grid``: broadcast = send_and_receive to every node."""

    def __init__(self, grid: Any, domain: Domain, n_clients: int, *, wait_s: float = 120.0) -> None:
        self.grid = grid
        self.wait_s = wait_s
        self.domain = domain
        self.n_clients = n_clients
        self.bytes_down = 0
        self.bytes_up = 0

    def _wait_for_nodes(self) -> list[int]:
        nodes = sorted(self.grid.get_node_ids())
        deadline = time.monotonic() + self.wait_s
        while len(nodes) < self.n_clients and time.monotonic() < deadline:
            time.sleep(0.5)  # SuperNodes are still registering
            nodes = sorted(self.grid.get_node_ids())
        return nodes

    def broadcast(self, request: dict[str, Any]) -> list[np.ndarray]:  # noqa: D102
        flwr_app = _flwr()
        nodes = self._wait_for_nodes()
        wire = json.dumps(request)
        msgs = [
            flwr_app.Message(flwr_app.RecordDict({"request": flwr_app.ConfigRecord({"json": wire})}),
                             dst_node_id=nid, message_type=MESSAGE_TYPE, group_id=str(request["round"]))
            for nid in nodes
        ]
        self.bytes_down += len(wire.encode()) * len(msgs)
        replies = list(self.grid.send_and_receive(msgs))
        if len(replies) != self.n_clients or any(r.has_error() for r in replies):
            raise InvalidParameterError(
                f"Secure aggregation needs every client's answer: got {len(replies)} of {self.n_clients}."
            )
        out = [r.content["masked"].to_numpy_ndarrays()[0].astype(np.uint32) for r in replies]
        self.bytes_up += sum(v.nbytes for v in out)
        return out


def server_app(domain: Domain, n_clients: int, budget: PrivacyBudget | float, result: dict[str, Any],
               **params: Any) -> Any:
    """A Flower ``ServerApp`` that runs :class:`FederatedMST` and puts the fitted model in ``result["model"]``."""
    _flwr()
    from flwr.serverapp import ServerApp

    app = ServerApp()

    @app.main()
    def main(grid: Any, context: Any) -> None:
        fed = FlowerFederation(grid, domain, n_clients)
        result["model"] = FederatedMST(**params).fit(fed, budget)

    return app


class _InProcessGrid:
    """The slice of Flower's ``Grid`` the server uses, delivering to ``ClientApp`` objects directly."""

    def __init__(self, app: Any, n_clients: int) -> None:
        self.app = app
        self.n = n_clients
        self._next_id = 0

    def get_node_ids(self) -> list[int]:
        return list(range(1, self.n + 1))

    def send_and_receive(self, messages: Sequence[Any]) -> list[Any]:
        flwr_app = _flwr()
        out = []
        for m in messages:
            self._next_id += 1
            # What the SuperLink does before delivery: give the message an id and a sender.
            m.metadata.__dict__["_message_id"] = f"m{self._next_id}"
            m.metadata.__dict__["_src_node_id"] = 0
            ctx = flwr_app.Context(run_id=1, node_id=m.metadata.dst_node_id,
                                   node_config={"partition-id": m.metadata.dst_node_id - 1,
                                                "num-partitions": self.n},
                                   state=flwr_app.RecordDict(), run_config={})
            out.append(self.app(m, ctx))
        return out


def run_in_process(partitions: Sequence[pd.DataFrame], domain: Domain, budget: PrivacyBudget | float,
                   *, random_state: RandomState = None, **params: Any) -> FederatedMST:
    """Run the Flower ``ClientApp`` and the server logic in this process (no Ray); return the model."""
    _flwr()
    app = client_app(partitions, domain, random_state=random_state)
    fed = FlowerFederation(_InProcessGrid(app, len(partitions)), domain, len(partitions))
    with _server_identity():
        return FederatedMST(random_state=random_state, **params).fit(fed, budget)


@contextmanager
def _server_identity() -> Iterator[None]:
    """What Flower's runtime sets before a ServerApp runs (messages are stamped with it); restored after."""
    from flwr.supercore.task_identity import TaskIdentity

    saved = (TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id)
    TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, 1, 0
    try:
        yield
    finally:
        TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id = saved


def run_flower_simulation(partitions: Sequence[pd.DataFrame], domain: Domain, budget: PrivacyBudget | float,
                          *, random_state: RandomState = None, **params: Any) -> FederatedMST:
    """Run in Flower's Simulation Engine (Ray backend, one virtual SuperNode per client)."""
    _flwr()
    from flwr.simulation import run_simulation

    result: dict[str, Any] = {}
    run_simulation(
        server_app=server_app(domain, len(partitions), budget, result, random_state=random_state, **params),
        client_app=client_app(partitions, domain, random_state=random_state),
        num_supernodes=len(partitions),
        backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0}, "init_args": {"num_cpus": 2}},
    )
    if "model" not in result:
        raise InvalidParameterError("The Flower simulation ended without a fitted model (see Flower's log).")
    model = result["model"]
    assert isinstance(model, FederatedMST)
    return model


# ---------------------------------------------------------------------------------------------
# Real Flower processes: flower-superlink, flower-supernode (one per client), `flwr run`.
# ---------------------------------------------------------------------------------------------

APP_MODULE = "dpsynth_flower_app"

_PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "dpsynth-federated-mst"
version = "1.0.0"
description = "Federated MST with distributed discrete Gaussian noise under secure aggregation"
dependencies = []

[tool.hatch.build.targets.wheel]
packages = ["."]

[tool.flwr.app]
publisher = "dpsynth"

[tool.flwr.app.components]
serverapp = "{module}:server"
clientapp = "{module}:client"

[tool.flwr.app.config]
domain-path = ""
out-path = ""
clients = 2
epsilon = 1.0
delta = 1e-9
iters = 1000
"""

_MODULE = '''\
"""Federated MST on Flower processes (written by dpsynth.federated.flower.write_app)."""

from dpsynth.federated.flower import node_client_app, node_server_app

client = node_client_app()
server = node_server_app()
'''


def write_app(directory: str | Path) -> Path:
    """Write a Flower app (``pyproject.toml`` and a module) that ``flwr run`` can start.

    The app's ``ClientApp`` reads its rows from the SuperNode's ``--node-config``
    (``data-path``, ``domain-path``, ``partition-id``, ``num-partitions``); the ``ServerApp``
    reads ``domain-path``, ``clients``, ``epsilon``, ``delta``, ``iters`` and ``out-path``
    (where the fitted model is saved) from the run config. ``dpsynth`` must be importable
    by the SuperLink's and SuperNodes' Python.
    """
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    (path / "pyproject.toml").write_text(_PYPROJECT.format(module=APP_MODULE))
    (path / f"{APP_MODULE}.py").write_text(_MODULE)
    return path


def _x25519() -> Any:
    from cryptography.hazmat.primitives.asymmetric import x25519

    return x25519


def _raw(public_key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def agreed_seeds(private_key: bytes, index: int, public_keys: dict[int, bytes]) -> dict[int, bytes]:
    """Pairwise secure-aggregation seeds from an X25519 key agreement (each client computes its own).

    The seed shared by clients i and j is SHA-256 of their Diffie–Hellman secret and the
    pair's indices; the server relays public keys only, so it never learns a seed.
    """
    x25519 = _x25519()
    own = x25519.X25519PrivateKey.from_private_bytes(private_key)
    seeds = {}
    for other, pub in public_keys.items():
        if other == index:
            continue
        secret = own.exchange(x25519.X25519PublicKey.from_public_bytes(pub))
        lo, hi = sorted((index, other))
        seeds[other] = hashlib.sha256(secret + lo.to_bytes(4, "little") + hi.to_bytes(4, "little")).digest()
    return seeds


def node_client_app() -> Any:
    """The ``ClientApp`` a SuperNode runs: its rows come from the node's own config, never from the server.

    Two message types: ``query.keys`` (make an X25519 key pair, keep the private half in the
    node's context state, answer the public half) and ``query.measure`` (answer a measurement
    request with masked, noise-shared counts; the masks' seeds come from the key agreement).
    Noise comes from ``os.urandom``.
    """
    flwr_app = _flwr()
    from flwr.clientapp import ClientApp

    app = ClientApp()

    def _node(context: Any) -> tuple[int, int]:
        cfg = context.node_config
        return int(cfg["partition-id"]), int(cfg["num-partitions"])

    @app.query("keys")
    def keys(message: Any, context: Any) -> Any:
        x25519 = _x25519()
        from cryptography.hazmat.primitives import serialization

        key = x25519.X25519PrivateKey.generate()
        raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
        context.state["secagg"] = flwr_app.ConfigRecord({"private": raw})
        pid, _ = _node(context)
        reply = flwr_app.RecordDict({"key": flwr_app.ConfigRecord({"partition": pid, "public": _raw(key.public_key())})})
        return flwr_app.Message(reply, reply_to=message)

    @app.query("measure")
    def measure(message: Any, context: Any) -> Any:
        pid, _ = _node(context)
        request = json.loads(str(message.content["request"]["json"]))
        public = {int(k): bytes.fromhex(v) for k, v in request["keys"].items()}
        seeds = agreed_seeds(bytes(context.state["secagg"]["private"]), pid, public)
        domain = Domain.from_json(str(context.node_config["domain-path"]))
        rows = pd.read_csv(str(context.node_config["data-path"]), dtype=str, keep_default_na=False)
        vec = FedClient(rows, domain, pid, seeds).handle(request)
        reply = flwr_app.RecordDict({"masked": flwr_app.ArrayRecord([vec])})
        return flwr_app.Message(reply, reply_to=message)

    return app


class NodeFederation(FlowerFederation):
    """A :class:`FlowerFederation` whose clients agree on their mask seeds by X25519 first."""

    def __init__(self, grid: Any, domain: Domain, n_clients: int, *, wait_s: float = 120.0) -> None:
        super().__init__(grid, domain, n_clients, wait_s=wait_s)
        self._keys: dict[int, str] | None = None

    def _exchange_keys(self) -> dict[int, str]:
        flwr_app = _flwr()
        nodes = self._wait_for_nodes()
        msgs = [flwr_app.Message(flwr_app.RecordDict(), dst_node_id=nid, message_type="query.keys", group_id="keys")
                for nid in nodes]
        replies = list(self.grid.send_and_receive(msgs))
        if len(replies) != self.n_clients or any(r.has_error() for r in replies):
            raise InvalidParameterError(f"Key agreement needs every client: got {len(replies)} of {self.n_clients}.")
        keys = {int(r.content["key"]["partition"]): bytes(r.content["key"]["public"]).hex() for r in replies}
        if sorted(keys) != list(range(self.n_clients)):
            raise InvalidParameterError(
                f"The clients' partition-ids must be 0 … {self.n_clients - 1}. Got {sorted(keys)}."
            )
        self.bytes_up += 32 * self.n_clients
        return keys

    def broadcast(self, request: dict[str, Any]) -> list[np.ndarray]:  # noqa: D102
        if self._keys is None:
            self._keys = self._exchange_keys()
        return super().broadcast({**request, "keys": self._keys})


def node_server_app() -> Any:
    """The ``ServerApp`` started by ``flwr run``: fits :class:`FederatedMST` and saves it to ``out-path``."""
    _flwr()
    from flwr.serverapp import ServerApp

    app = ServerApp()

    @app.main()
    def main(grid: Any, context: Any) -> None:
        cfg = context.run_config
        domain = Domain.from_json(str(cfg["domain-path"]))
        fed = NodeFederation(grid, domain, int(cfg["clients"]))
        model = FederatedMST(iters=int(cfg["iters"])).fit(fed, (float(cfg["epsilon"]), float(cfg["delta"])))
        out = Path(str(cfg["out-path"]))
        tmp = model.save(out.with_name(out.name + ".part"))
        tmp.replace(out)  # the file appears only when complete

    return app


# ---------------------------------------------------------------------------------------------
# The neural baseline (distributed DP-SGD of a VAE) on Flower: weights down, masked sums up.
# ---------------------------------------------------------------------------------------------

FEDSYN_MESSAGE_TYPE = "query.fedsyn"


def fedsyn_client_app(partitions: Sequence[pd.DataFrame], domain: Domain, *, random_state: RandomState = None,
                      latent: int = 8, hidden: int = 64) -> Any:
    """A Flower ``ClientApp`` for :class:`~dpsynth.federated.fedsyn.FederatedDPVAE` rounds."""
    flwr_app = _flwr()
    from flwr.clientapp import ClientApp

    from dpsynth.federated.fedsyn import FedSynClient

    seeds = pairwise_seeds(len(partitions))
    rng = make_rng(random_state) if random_state is not None else None
    client_seeds = [None if rng is None else int(rng.integers(2**62)) for _ in partitions]
    clients: dict[int, FedSynClient] = {}
    app = ClientApp()

    @app.query("fedsyn")
    def step(message: Any, context: Any) -> Any:
        pid = int(context.node_config["partition-id"])
        if pid not in clients:
            clients[pid] = FedSynClient(partitions[pid], domain, pid, seeds[pid], random_state=client_seeds[pid],
                                        latent=latent, hidden=hidden)
        request = json.loads(str(message.content["request"]["json"]))
        weights = message.content["weights"].to_numpy_ndarrays() if "weights" in message.content else []
        vec = clients[pid].handle(request, weights)
        reply = flwr_app.RecordDict({"masked": flwr_app.ArrayRecord([vec])})
        return flwr_app.Message(reply, reply_to=message)

    return app


class FlowerFedSynFederation(FlowerFederation):
    """The server's neural federation over a Flower ``Grid``: weights and request to every node."""

    def __init__(self, grid: Any, domain: Domain, n_clients: int, *, latent: int = 8, hidden: int = 64,
                 wait_s: float = 120.0) -> None:
        super().__init__(grid, domain, n_clients, wait_s=wait_s)
        self.latent, self.hidden = latent, hidden

    def broadcast(self, request: dict[str, Any], weights: Sequence[np.ndarray] = ()) -> list[np.ndarray]:  # type: ignore[override]  # noqa: D102
        flwr_app = _flwr()
        nodes = self._wait_for_nodes()
        wire = json.dumps(request)
        msgs = []
        for nid in nodes:
            content = {"request": flwr_app.ConfigRecord({"json": wire})}
            if weights:
                content["weights"] = flwr_app.ArrayRecord([np.asarray(w) for w in weights])
            msgs.append(flwr_app.Message(flwr_app.RecordDict(content), dst_node_id=nid,
                                         message_type=FEDSYN_MESSAGE_TYPE, group_id=str(request["round"])))
        self.bytes_down += (len(wire.encode()) + sum(int(np.asarray(w).nbytes) for w in weights)) * len(msgs)
        replies = list(self.grid.send_and_receive(msgs))
        if len(replies) != self.n_clients or any(r.has_error() for r in replies):
            raise InvalidParameterError(
                f"Secure aggregation needs every client's answer: got {len(replies)} of {self.n_clients}."
            )
        out = [r.content["masked"].to_numpy_ndarrays()[0] for r in replies]
        self.bytes_up += sum(v.nbytes for v in out)
        return out


def run_fedsyn_in_process(partitions: Sequence[pd.DataFrame], domain: Domain, budget: PrivacyBudget | float,
                          *, random_state: RandomState = None, **params: Any) -> Any:
    """Train :class:`~dpsynth.federated.fedsyn.FederatedDPVAE` through Flower messages in this process."""
    _flwr()
    from dpsynth.federated.fedsyn import FederatedDPVAE

    app = fedsyn_client_app(partitions, domain, random_state=random_state)
    fed = FlowerFedSynFederation(_InProcessGrid(app, len(partitions)), domain, len(partitions))
    with _server_identity():
        return FederatedDPVAE(random_state=random_state, **params).fit(fed, budget)


def run_fedsyn_simulation(partitions: Sequence[pd.DataFrame], domain: Domain, budget: PrivacyBudget | float,
                          *, random_state: RandomState = None, **params: Any) -> Any:
    """Train :class:`~dpsynth.federated.fedsyn.FederatedDPVAE` in Flower's Simulation Engine (Ray)."""
    _flwr()
    from flwr.serverapp import ServerApp
    from flwr.simulation import run_simulation

    from dpsynth.federated.fedsyn import FederatedDPVAE

    result: dict[str, Any] = {}
    server = ServerApp()

    @server.main()
    def main(grid: Any, context: Any) -> None:
        fed = FlowerFedSynFederation(grid, domain, len(partitions))
        result["model"] = FederatedDPVAE(random_state=random_state, **params).fit(fed, budget)

    run_simulation(
        server_app=server,
        client_app=fedsyn_client_app(partitions, domain, random_state=random_state),
        num_supernodes=len(partitions),
        backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0}, "init_args": {"num_cpus": 2}},
    )
    if "model" not in result:
        raise InvalidParameterError("The Flower simulation ended without a fitted model (see Flower's log).")
    return result["model"]
