#!/usr/bin/env python3
"""Server memory per idle connection, and 10,000 concurrent connections.

Starts `tsecho server` on 127.0.0.1:0, reads its RSS (VmRSS), opens N TCP
connections (default 10,000), has every one exchange one text message so
each is known to be served, leaves them idle, and reads the RSS again.
Prints the RSS before and after and the difference per connection; the
issue's bound is 4 KiB of user-space memory per idle connection.

Usage: bench/idle_memory.py [N]     (TSECHO=path/to/tsecho, default ./tsecho)
Loopback only; every wait is bounded.
"""
import os
import resource
import signal
import socket
import subprocess
import sys
import time


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < n + 100:
        sys.exit(f"idle_memory: RLIMIT_NOFILE hard limit {hard} is below {n + 100}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (n + 100, hard))

    binary = os.environ.get("TSECHO", "./tsecho")
    srv = subprocess.Popen([binary, "server", "-q", "-l", "127.0.0.1", "-p", "0", "--no-udp"],
                           stdout=subprocess.PIPE, text=True)
    try:
        line = srv.stdout.readline()
        if "listening on tcp" not in line:
            sys.exit(f"idle_memory: unexpected first line {line!r}")
        port = int(line.rsplit(":", 1)[1])
        time.sleep(0.2)
        rss_before = vm_rss_kib(srv.pid)

        socks = []
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"hi\n")
            socks.append(s)
            # Collect replies as we go so backlogs stay short.
            if i % 500 == 499:
                for t in socks[i - 499:i + 1]:
                    if not t.recv(64).endswith(b":hi\n"):
                        sys.exit("idle_memory: a connection was not answered")
        for t in socks[n - n % 500:]:
            if not t.recv(64).endswith(b":hi\n"):
                sys.exit("idle_memory: a connection was not answered")
        time.sleep(0.5)
        rss_after = vm_rss_kib(srv.pid)
        per_conn = (rss_after - rss_before) * 1024 / n
        print(f"connections          {n} (all answered)")
        print(f"server RSS before    {rss_before} KiB")
        print(f"server RSS with idle {rss_after} KiB")
        print(f"per idle connection  {per_conn:.0f} bytes (bound: 4096)")
        for s in socks:
            s.close()
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(timeout=10)
        except subprocess.TimeoutExpired:
            srv.kill()


if __name__ == "__main__":
    main()
