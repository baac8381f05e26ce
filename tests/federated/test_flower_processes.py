"""Federated MST across real Flower processes on localhost: a SuperLink, one SuperNode per client, `flwr run`.

Each client's rows live only in a CSV named by its SuperNode's ``--node-config``; the clients
agree on their secure-aggregation masks by X25519 through the server, which relays public
keys only. The fitted model comes back through the ServerApp's ``out-path``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dpsynth
from dpsynth.data.domain import Column, Domain
from dpsynth.federated import FederatedMST, split_rows
from dpsynth.federated.flower import agreed_seeds, write_app
from dpsynth.federated.protocol import aggregate, client_contribution
from dpsynth.privacy import NoiseSource

CLIENTS = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ours_alive(ports: list[int]) -> list[int]:
    """Processes (any of Flower's children included) whose command line names one of our ports."""
    alive = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except OSError:
            continue
        if state != "Z" and ("flwr" in cmd or "flower" in cmd) and any(f"127.0.0.1:{p}" in cmd for p in ports):
            alive.append(int(pid))
    return alive


def test_x25519_seeds_agree_and_masks_cancel():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import x25519

    keys = [x25519.X25519PrivateKey.generate() for _ in range(3)]
    raw = [k.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
           for k in keys]
    pubs = {i: k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            for i, k in enumerate(keys)}
    seeds = [agreed_seeds(raw[i], i, pubs) for i in range(3)]
    assert seeds[0][1] == seeds[1][0] and seeds[1][2] == seeds[2][1] and seeds[0][1] != seeds[0][2]
    counts = [np.arange(10) * (i + 1) for i in range(3)]
    sent = [client_contribution(c, index=i, seeds=seeds[i], round_id=4, sigma=3.0, clients=3,
                                noise=NoiseSource(i)) for i, c in enumerate(counts)]
    noise = aggregate(sent) - np.sum(counts, axis=0)
    assert np.abs(noise).max() < 8 * 3.0  # only the noise is left: the masks cancelled


@pytest.mark.slow
def test_real_flower_processes_on_localhost(tmp_path: Path):
    dom = Domain([Column(name=n, kind="categorical", categories=tuple(str(i) for i in range(3))) for n in "abc"])
    rng = np.random.default_rng(0)
    n = 900
    a = rng.integers(0, 3, n)
    frame = pd.DataFrame({"a": a.astype(str), "b": np.where(rng.random(n) < 0.9, a, 0).astype(str),
                          "c": rng.integers(0, 3, n).astype(str)})
    (tmp_path / "domain.json").write_text(json.dumps(dom.to_json()))
    for i, part in enumerate(split_rows(frame, CLIENTS, random_state=0)):
        part.to_csv(tmp_path / f"client{i}.csv", index=False)
    app = write_app(tmp_path / "app")
    link = _free_port()
    nodes = [_free_port() for _ in range(CLIENTS)]
    home = tmp_path / "flwr_home"
    home.mkdir()
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "local"\n\n[superlink.local]\naddress = "127.0.0.1:{link}"\ninsecure = true\n'
    )
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "FLWR_HOME": str(home), "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
           "PYTHONPATH": os.pathsep.join([str(Path(dpsynth.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    logs = []

    def start(args: list[str], name: str) -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"{name}.log", "wb")
        logs.append(log)
        return subprocess.Popen([str(Path(bindir) / args[0]), *args[1:]], stdout=log, stderr=subprocess.STDOUT,
                                env=env, cwd=tmp_path)

    procs = [start(["flower-superlink", "--insecure", "--port", str(link)], "superlink")]
    out = tmp_path / "model.dps"
    try:
        for i, port in enumerate(nodes):
            cfg = (f'partition-id={i} num-partitions={CLIENTS} data-path="{tmp_path / f"client{i}.csv"}" '
                   f'domain-path="{tmp_path / "domain.json"}"')
            procs.append(start(["flower-supernode", "--insecure", "--superlink", f"127.0.0.1:{link}",
                                "--port", str(port), "--node-config", cfg], f"supernode{i}"))
        run_cfg = (f'domain-path="{tmp_path / "domain.json"}" out-path="{out}" clients={CLIENTS} '
                   "epsilon=2.0 delta=1e-6 iters=50")
        for _attempt in range(20):  # the SuperLink may still be starting on a busy machine
            run = subprocess.run([str(Path(bindir) / "flwr"), "run", str(app), "local", "--run-config", run_cfg],
                                 env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
            if run.returncode == 0:
                break
            time.sleep(2)
        assert run.returncode == 0, run.stdout + run.stderr
        deadline = time.monotonic() + 400
        while not out.exists() and time.monotonic() < deadline:
            assert all(p.poll() is None for p in procs), "a Flower process died; see its log"
            time.sleep(1)
        assert out.exists(), (tmp_path / "superlink.log").read_text()[-3000:]
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
        for log in logs:
            log.close()
    # Clean shutdown: Flower's own children (SuperExec, app processes) go with their parents.
    deadline = time.monotonic() + 60
    while _ours_alive([link, *nodes]) and time.monotonic() < deadline:
        time.sleep(1)
    assert not _ours_alive([link, *nodes])
    assert all(p.returncode is not None for p in procs)

    model = FederatedMST.load(out)
    rep = model.privacy_report
    assert 1.99 < rep.epsilon <= 2.0 * (1 + 1e-6) and not rep.seeded
    assert [e.step for e in rep.ledger] == ["federated_mst.measure_1way", "federated_mst.select",
                                           "federated_mst.measure_2way"]
    assert ("a", "b") in model.tree_  # the strong dependence survived the noise
    sample = model.sample(200, random_state=0)
    assert list(sample.columns) == list("abc") and set(sample.stack().unique()) <= {"0", "1", "2"}
