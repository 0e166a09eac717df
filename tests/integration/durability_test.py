"""Every write meshd acknowledged (HTTP 200) survives `kill -9`.

Each round: concurrent writers create meshes and virtual nodes and update both over raw HTTP, recording
every acknowledged write; meshd is killed with SIGKILL while they are still writing, started again on
the same data dir, and every acknowledged write of every round so far must be there, with the uid it
was acknowledged with and at least the acknowledged version. Writes in flight at the kill may or may
not have been applied; nothing is asserted about them.

DURABILITY_SEED=<n> replays a run's kill points.
"""

import http.client
import os
import random
import threading
import time
import unittest
from typing import NamedTuple

from harness import MeshdTestCase, api_path

ROUNDS = 5
WRITERS = 4
MAX_ITERATIONS_PER_WRITER = 500        # 5 writes each, 10000 in all: far beyond any kill point below
KILL_AFTER_ACKS = (50, 2000)           # the kill comes after a random number of acks in this range
WAIT_FOR_KILL_POINT_S = 30.0
JOIN_TIMEOUT_S = 30.0


def node_spec(port: int) -> dict:
    return {"listeners": [{"portMapping": {"port": port, "protocol": "http"}}],
            "serviceDiscovery": {"dns": {"hostname": f"node-{port}.default.svc.cluster.local"}}}


def mesh_spec(egress: str) -> dict:
    return {"egressFilter": {"type": egress}}


class Ack(NamedTuple):
    uid: str
    version: int


class AckLog:
    """Acknowledged writes by resource path, shared by the writer threads (all access under _cond)."""

    def __init__(self):
        self._cond = threading.Condition()
        self._acks: "dict[str, Ack]" = {}
        self._count = 0
        self.unexpected: "list[str]" = []

    def record(self, resource_path: str, body: dict) -> None:
        metadata = body["metadata"]
        with self._cond:
            known = self._acks.get(resource_path)
            if known is None or metadata["version"] > known.version:
                self._acks[resource_path] = Ack(metadata["uid"], metadata["version"])
            self._count += 1
            self._cond.notify_all()

    def record_unexpected(self, what: str) -> None:
        with self._cond:
            self.unexpected.append(what)
            self._cond.notify_all()

    def wait_for(self, count: int, writers_alive, timeout: float) -> bool:
        """Until `count` acks were recorded, or no writer is left, or the timeout; True if reached."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._count < count and writers_alive() and time.monotonic() < deadline:
                self._cond.wait(timeout=0.05)
            return self._count >= count

    def snapshot(self) -> "dict[str, Ack]":
        with self._cond:
            return dict(self._acks)


class MeshdGone(Exception):
    pass


class Writer(threading.Thread):
    """Creates a mesh and a node in it, updates both, and adds a node to the round's shared mesh;
    over and over until meshd stops answering."""

    def __init__(self, meshd, round_no: int, index: int, shared_mesh: str, log: AckLog):
        super().__init__(name=f"writer-{round_no}-{index}", daemon=True)
        self.meshd, self.round_no, self.index = meshd, round_no, index
        self.shared_mesh, self.log = shared_mesh, log

    def run(self):
        try:
            for i in range(MAX_ITERATIONS_PER_WRITER):
                self.iteration(i)
        except MeshdGone:
            pass  # killed under us: expected

    def iteration(self, i: int):
        own_mesh = f"r{self.round_no}-w{self.index}-m{i}"
        own_node = api_path(own_mesh, "virtualNode", "vn")
        shared_node_name = f"w{self.index}-vn{i}"
        self.write(api_path(), {"meshName": own_mesh, "spec": mesh_spec("ALLOW_ALL")}, api_path(own_mesh))
        self.write(api_path(own_mesh, "virtualNode"), {"virtualNodeName": "vn", "spec": node_spec(9080)},
                   own_node)
        self.write(api_path(self.shared_mesh, "virtualNode"),
                   {"virtualNodeName": shared_node_name, "spec": node_spec(9080)},
                   api_path(self.shared_mesh, "virtualNode", shared_node_name))
        self.write(own_node, {"spec": node_spec(8080)}, own_node)
        self.write(api_path(own_mesh), {"spec": mesh_spec("DROP_ALL")}, api_path(own_mesh))

    def write(self, path: str, body: dict, resource_path: str):
        try:
            result = self.meshd.http("PUT", path, body)
        except (OSError, http.client.HTTPException) as e:
            raise MeshdGone() from e
        if result.status != 200:
            self.log.record_unexpected(f"PUT {path} → {result.status} {result.body}")
            raise MeshdGone()  # later writes of this iteration depend on this one
        self.log.record(resource_path, result.body)


class DurabilityTest(MeshdTestCase):
    # Writers create many meshes and nodes: lift the quotas out of the way.
    quotas = {"meshes": 10000, "virtualNodes": 10000}

    def test_acknowledged_writes_survive_kill_9(self):
        seed = int(os.environ.get("DURABILITY_SEED", random.randrange(1 << 30)))
        rng = random.Random(seed)
        log = AckLog()
        for round_no in range(ROUNDS):
            with self.subTest(round=round_no, seed=seed):
                self.run_round(round_no, rng.randint(*KILL_AFTER_ACKS), log)
                self.assertEqual(log.unexpected, [], "writes failed while meshd was up")
                self.assert_all_acknowledged_present(log.snapshot())
        self.assertEqual(self.meshd.stop(), 0, "SIGTERM must end meshd with exit code 0")

    def run_round(self, round_no: int, kill_after: int, log: AckLog):
        shared_mesh = f"r{round_no}-shared"
        created = self.assertHttpOk(self.http("PUT", api_path(), {"meshName": shared_mesh}))
        log.record(api_path(shared_mesh), created)

        writers = [Writer(self.meshd, round_no, i, shared_mesh, log) for i in range(WRITERS)]
        for w in writers:
            w.start()
        reached = log.wait_for(kill_after, lambda: any(w.is_alive() for w in writers),
                               WAIT_FOR_KILL_POINT_S)
        writers_still_writing = sum(w.is_alive() for w in writers)
        self.meshd.kill9()
        for w in writers:
            w.join(JOIN_TIMEOUT_S)
        hung = [w.name for w in writers if w.is_alive()]
        # Started again before asserting, so that a failed round leaves meshd up for the next one.
        self.meshd.start()
        self.assertEqual(hung, [], "writers hung after meshd was killed")
        self.assertTrue(reached, f"fewer than {kill_after} acks before the writers stopped; "
                                 f"unexpected: {log.unexpected[:5]}")
        self.assertGreater(writers_still_writing, 0, "the kill must land in the middle of the writes")

    def assert_all_acknowledged_present(self, acks: "dict[str, Ack]"):
        problems = []
        for path, ack in sorted(acks.items()):
            result = self.http("GET", path)
            if result.status != 200:
                problems.append(f"{path}: acknowledged at version {ack.version}, now {result.status}")
                continue
            metadata = result.body["metadata"]
            if metadata["uid"] != ack.uid:
                problems.append(f"{path}: uid {metadata['uid']} is not the acknowledged {ack.uid}")
            if metadata["version"] < ack.version:
                problems.append(f"{path}: version {metadata['version']} < acknowledged {ack.version}")
        if problems:
            self.fail(f"{len(problems)} of {len(acks)} acknowledged writes lost or rolled back, e.g.\n"
                      + "\n".join(problems[:20]) + "\n" + self.meshd.log_tail())


if __name__ == "__main__":
    unittest.main()
