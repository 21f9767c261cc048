"""RSS of the product's server across bursts of new TLS connections (``server/memory.py``).

Each round opens ``--connections`` TLS connections at once, sends one ``GET /healthz`` on
each, reads the answers and closes them all; the server's RSS is printed after every round,
then once more ``--idle`` seconds after the last (past the 10 s after which the server gives
freed C heap back to the system).

    python bench/connection_memory.py --connections 1000 --rounds 8
"""

from __future__ import annotations

import argparse
import resource
import socket
import ssl
import tempfile
import time
from pathlib import Path

from loadbench import Server, prepare, product_cmd, rss_mb


def burst(port: int, context: ssl.SSLContext, count: int) -> None:
    conns = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        conns.append(context.wrap_socket(sock, server_hostname="downward-webhook"))
    for conn in conns:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: webhook\r\n\r\n")
    for conn in conns:
        if not conn.recv(1000).startswith(b"HTTP/1.1 200"):
            raise RuntimeError("GET /healthz failed")
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--idle", type=float, default=12.0)
    parser.add_argument("--port", type=int, default=9471)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.connections + 256), hard))
    work = Path(tempfile.mkdtemp(prefix="downward-connmem-"))
    tls = prepare(work, [])
    context = ssl.create_default_context(cafile=str(work / "certs" / "ca.crt"))
    server = Server("product", product_cmd(args.port, tls), args.port, work)
    try:
        server.wait_ready()
        print(f"start: {rss_mb(server.proc.pid):.1f} MB")
        for i in range(args.rounds):
            burst(args.port, context, args.connections)
            time.sleep(1)
            print(
                f"after round {i + 1} of {args.connections} connections: "
                f"{rss_mb(server.proc.pid):.1f} MB"
            )
        time.sleep(args.idle)
        print(f"{args.idle:g} s after the last round: {rss_mb(server.proc.pid):.1f} MB")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
