"""colorteller, the walkthrough's app, as a real process: the families it accepts decide the
walkthrough's "application compatibility" column, so each listen mode is checked from both loopbacks."""
import http.client
import os
import signal
import socket
import subprocess
import time
import unittest
from pathlib import Path

BIN = os.environ.get("COLORTELLER_BIN", str(Path(__file__).resolve().parents[2] / "build" / "colorteller"))


def free_port() -> int:
    # A port free on both families: ask the kernel for one on a dual-stack socket.
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", 0))
        return s.getsockname()[1]


def get(host: str, port: int, path: str):
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


class ColortellerTest(unittest.TestCase):
    def start(self, mode: str, color: str = "red"):
        port = free_port()
        proc = subprocess.Popen([BIN, "--listen", mode], env={"COLOR": color, "PORT": str(port)},
                                stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: (proc.poll() is None and proc.send_signal(signal.SIGTERM), proc.wait(timeout=10)))
        deadline = time.monotonic() + 10
        probe = ("127.0.0.1", socket.AF_INET) if mode == "ipv4" else ("::1", socket.AF_INET6)
        while time.monotonic() < deadline:
            with socket.socket(probe[1], socket.SOCK_STREAM) as s:
                if s.connect_ex((probe[0], port)) == 0:
                    return port
            time.sleep(0.05)
        self.fail("colorteller did not start")

    def reachable(self, host: str, port: int) -> bool:
        try:
            return get(host, port, "/ping")[0] == 200
        except ConnectionRefusedError:
            return False

    def test_answers_color_and_ping(self):
        port = self.start("dual", "purple")
        self.assertEqual(get("127.0.0.1", port, "/purple"), (200, "purple"))
        self.assertEqual(get("::1", port, "/"), (200, "purple"))
        self.assertEqual(get("::1", port, "/ping"), (200, ""))

    def test_listen_modes_accept_exactly_their_families(self):
        for mode, v4, v6 in (("ipv4", True, False), ("ipv6", False, True), ("dual", True, True)):
            with self.subTest(mode=mode):
                port = self.start(mode)
                self.assertEqual(self.reachable("127.0.0.1", port), v4)
                self.assertEqual(self.reachable("::1", port), v6)

    def test_refuses_to_start_without_color_or_port(self):
        for env, missing in (({"PORT": "9080"}, "COLOR"), ({"COLOR": "red"}, "PORT")):
            r = subprocess.run([BIN], env=env, capture_output=True, text=True, timeout=10)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(missing, r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1)


if __name__ == "__main__":
    unittest.main()
