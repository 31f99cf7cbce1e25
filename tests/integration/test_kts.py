"""Kernel timestamps: `tsecho ping --kernel-timestamps` against a real
`tsecho server --kernel-timestamps` over loopback, on every engine, TCP and
UDP (docs/measurement.md, "Kernel timestamps").

Over loopback both ends read one clock, so every part is exact: each is
non-negative, and with every part present they add up to the round trip
to within REMAINDER_MS (the raw and the wall clock are read one after the
other at t1 and at t4; what lies between the two reads is the remainder).
A server stopped for 200 ms shows in the server's parts, a client slow to
read (the TSECHO_TEST_READ_DELAY hook) in the client wake-up, and sockets
that refuse SO_TIMESTAMPING (tests/helpers/deny) leave parts unavailable,
never zero, while ping still works.  Between namespaces of our own (a
veth pair, root only) the network parts are offset-corrected with their
bound.  Tests assert structure and where time goes, never how much of it
there is.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import time

from harness import (Process, Result, Server, SkipTest, require_binary, run_cli,
                     run_tsecho)

LO = "127.0.0.1"
PARTS = ("client_send", "network_out", "server_wakeup", "server_processing",
         "server_send", "network_back", "client_wakeup")
CLIENT_PARTS = ("client_send", "network_out", "network_back", "client_wakeup")
SERVER_KERNEL_PARTS = ("network_out", "server_wakeup", "server_send", "network_back")
# The parts add up to the RTT within this (stated in docs/measurement.md).
REMAINDER_MS = 0.005
DENY = os.path.join(os.environ.get("TSECHO_BUILDDIR", "."), "tests", "helpers", "deny")


def engines():
    """The server engines this build and kernel run."""
    out = ["epoll", "poll", "select"]
    code, _, _ = run_cli("server", "--engine", "io_uring", "--help")
    if code == 0:
        with Server("--engine", "io_uring", "--no-udp") as srv:
            if srv.lines()[0].startswith("engine io_uring "):
                out.append("io_uring")
    return out


def ping_json(port, *args, env=None, wrap=()):
    """`tsecho ping --kernel-timestamps --json --samples` (run by wrap, when
    given), which must answer every probe; its JSON document."""
    argv = ["ping", "%s:%d" % (LO, port), "--kernel-timestamps", "--json", "--samples"]
    argv += list(args)
    if wrap:
        t0 = time.monotonic()
        full = list(wrap) + [require_binary()] + argv
        p = subprocess.run(full, capture_output=True, env=env, timeout=30)
        r = Result(full, p.returncode, p.stdout, p.stderr, time.monotonic() - t0)
    else:
        r = run_tsecho(*argv, env=env, timeout=30)
    assert r.code == 0, r.describe()
    doc = json.loads(r.out)
    assert doc["packets"]["received"] == doc["packets"]["sent"], r.describe()
    return doc


def check_exact(doc, what):
    """Every part of every probe present is non-negative; with all of them
    the remainder is within REMAINDER_MS; a missing part is null."""
    b = doc["breakdown_ms"]
    assert b["clock"] == "one host" and b["network_bound"] is None, (what, b["clock"])
    assert b["probes"] == doc["packets"]["received"], (what, b["probes"])
    assert len(b["samples"]) == b["probes"], what
    complete = 0
    for s in b["samples"]:
        present = [s[p] for p in PARTS if s[p] is not None]
        assert all(v >= 0 for v in present), (what, s)
        if len(present) == len(PARTS):
            complete += 1
            assert abs(s["remainder"]) <= REMAINDER_MS, (what, s)
            assert abs(sum(present) + s["remainder"] - s["rtt"]) < 1e-5, (what, s)
    assert complete == b["complete"], (what, complete, b["complete"])
    for p in PARTS:
        if b[p] is not None:
            m = b[p]
            assert m["min"] <= m["p50"] <= m["max"] and m["min"] <= m["mean"] <= m["max"], \
                (what, p, m)
    return b


def test_parts_add_up_on_every_engine_tcp_and_udp():
    """Ping-pong, 20 probes: every part of every probe, except the last
    probe's server send path and network back (no later reply carries the
    server's send time), non-negative and adding up to the RTT."""
    for engine in engines():
        with Server("--engine", engine, "--kernel-timestamps") as srv:
            for transport in ("--tcp", "--udp"):
                what = "%s %s" % (engine, transport)
                doc = ping_json(srv.tcp_port, transport, "-c", "20", "-i", "0")
                b = check_exact(doc, what)
                assert b["server_rx"] and b["server_tx"] and b["refused"] is None, (what, b)
                assert b["complete"] == 19, (what, b["complete"], b["samples"][-3:])
                last = b["samples"][-1]
                assert last["server_send"] is None and last["network_back"] is None, \
                    (what, last)
                for p in PARTS:
                    want = 19 if p in ("server_send", "network_back") else 20
                    assert b[p]["count"] == want, (what, p, b[p])


def test_interval_mode_and_text_output():
    """With an interval (a non-blocking socket, poll, POLLERR for the
    error queue) the parts are all there too; the text output has one
    `parts ms:` line per probe and one line per part under the RTT lines."""
    with Server("--engine", "epoll", "--kernel-timestamps") as srv:
        r = run_tsecho("ping", "%s:%d" % (LO, srv.tcp_port), "--kernel-timestamps",
                       "-c", "6", "-i", "0.02", timeout=20)
        assert r.code == 0, r.describe()
        lines = r.out.splitlines()
        per_probe = [l for l in lines if re.match(r"^seq=\d+ parts ms: ", l)]
        assert len(per_probe) == 6, r.describe()
        missing = [re.findall(r"(\w+)=-(?= )", l) for l in per_probe]
        assert missing[-1] == ["ssend", "back"], per_probe[-1]
        assert all(m == [] for m in missing[:-1]), per_probe
        head = [i for i, l in enumerate(lines) if l.startswith("kernel timestamps (")]
        assert len(head) == 1, r.describe()
        i = head[0]
        assert lines[i - 1].startswith("rtt p50/p90/p99/p99.9 = "), lines[i - 2:i + 1]
        names = ["client send path", "network out", "server wake-up", "server processing",
                 "server send path", "network back", "client wake-up"]
        for k, name in enumerate(names):
            row = lines[i + 2 + k].split()
            assert " ".join(row[:len(name.split())]) == name, (name, lines[i + 2 + k])
        assert "the parts add up to the rtt" in lines[i + 9], lines[i + 9]
        doc = ping_json(srv.tcp_port, "-c", "6", "-i", "0.02", "--udp")
        b = check_exact(doc, "interval udp")
        assert b["complete"] == 5, b


def test_stopped_server_shows_in_the_server_parts():
    """SIGSTOP for 200 ms in a ping-pong run, TCP and UDP: the probe under
    way then shows it in the server's wake-up or processing (the kernel
    took it at once; the server read or answered it 200 ms later), not in
    either network part or the client's.  (No UDP rate limit: ping-pong
    runs faster than the default's 10,000 a second.)"""
    with Server("--engine", "epoll", "--kernel-timestamps", "--udp-rate", "0",
                "--udp-budget", "0") as srv:
        for transport in ("--tcp", "--udp"):
            argv = [require_binary(), "ping", "%s:%d" % (LO, srv.tcp_port), transport,
                    "--kernel-timestamps", "--json", "-i", "0", "-w", "0.8s"]
            with Process(argv) as ping:
                time.sleep(0.25)
                srv.send_signal(signal.SIGSTOP)
                time.sleep(0.2)
                srv.send_signal(signal.SIGCONT)
                code = ping.wait_exit(timeout=20)
                assert code == 0, ping.describe()
                doc = json.loads("\n".join(ping.lines()))
            b = doc["breakdown_ms"]
            server_side = max(b["server_wakeup"]["max"], b["server_processing"]["max"])
            assert server_side >= 150, (transport, b)
            for p in ("client_send", "network_out", "network_back", "client_wakeup"):
                assert b[p]["max"] < 50, (transport, p, b[p])


def test_slow_client_read_shows_in_client_wakeup():
    """The client sleeps 20 ms before each read (a test hook): the reply
    waits in its socket, so the time is in the client wake-up part."""
    env = dict(os.environ, TSECHO_TEST_READ_DELAY="20ms")
    with Server("--engine", "epoll", "--kernel-timestamps") as srv:
        doc = ping_json(srv.tcp_port, "-c", "5", "-i", "0", env=env)
    b = check_exact(doc, "read delay")
    assert b["client_wakeup"]["min"] >= 15, b["client_wakeup"]
    for p in ("client_send", "network_out", "server_wakeup", "server_send", "network_back"):
        assert b[p]["max"] < 10, (p, b[p])


def test_builtin_server():
    """No host: the built-in server has kernel timestamps too."""
    r = run_tsecho("ping", "--kernel-timestamps", "-c", "4", "-i", "0.01", "--json",
                   "--samples", timeout=20)
    assert r.code == 0, r.describe()
    b = check_exact(json.loads(r.out), "builtin")
    assert b["complete"] == 3, b


def require_deny():
    if not os.access(DENY, os.X_OK):
        raise SkipTest("tests/helpers/deny not built")


def test_client_socket_refuses():
    """The client's setsockopt refused: its parts are unavailable (null,
    never 0), the server's own parts still come, and ping works."""
    require_deny()
    with Server("--engine", "epoll", "--kernel-timestamps") as srv:
        doc = ping_json(srv.tcp_port, "-c", "5", "-i", "0", wrap=(DENY, "timestamping"))
    b = doc["breakdown_ms"]
    assert b["refused"] == "Protocol not available", b["refused"]
    for p in CLIENT_PARTS:
        assert b[p] is None, (p, b[p])
    assert b["server_wakeup"]["count"] == 5 and b["server_send"]["count"] == 4, b
    assert b["complete"] == 0
    assert all(s["client_tx_ns"] is None and s["client_rx_ns"] is None for s in b["samples"])
    assert "refused" in b["note"], b["note"]


def test_auto_by_default_on_every_engine():
    """A server with no option turns kernel timestamps on for a flow when
    its first probe asks: that probe has no server receive time (network
    out and server wake-up unavailable), the last no server send time, and
    every probe between has every part."""
    for engine in engines():
        with Server("--engine", engine) as srv:
            for transport in ("--tcp", "--udp"):
                what = "auto %s %s" % (engine, transport)
                doc = ping_json(srv.tcp_port, transport, "-c", "10", "-i", "0")
                b = check_exact(doc, what)
                assert b["server_rx"] and b["server_tx"], (what, b)
                first, last = b["samples"][0], b["samples"][-1]
                assert first["network_out"] is None and first["server_wakeup"] is None, \
                    (what, first)
                assert first["server_send"] is not None, (what, first)
                assert last["server_send"] is None, (what, last)
                assert b["complete"] == 8, (what, b["complete"])


def test_server_socket_refuses_or_has_it_off():
    """A server whose sockets refuse SO_TIMESTAMPING says so once and
    answers as one with kernel timestamps off (as --kernel-timestamps=off
    does): the server's kernel parts are unavailable, the client's and
    server processing are there."""
    require_deny()
    for wrap, args in (((DENY, "timestamping"), ("--kernel-timestamps",)),
                       ((DENY, "timestamping"), ()),
                       ((), ("--kernel-timestamps=off",))):
        with Server("--engine", "epoll", *args, wrap=wrap) as srv:
            doc = ping_json(srv.tcp_port, "-c", "5", "-i", "0")
            if wrap:
                srv.stop()
                refused = [l for l in srv.lines() + srv.stderr_lines()
                           if "kernel timestamps refused" in l]
                assert len(refused) == 1, srv.describe()
        b = doc["breakdown_ms"]
        assert not b["server_rx"] and not b["server_tx"], b
        for p in SERVER_KERNEL_PARTS:
            assert b[p] is None, (wrap, p, b[p])
        for p in ("client_send", "server_processing", "client_wakeup"):
            assert b[p]["count"] == 5, (wrap, p, b[p])
        assert "--kernel-timestamps" in b["note"], b["note"]


def test_bad_combinations():
    code, _, err = run_cli("server", "--kernel-timestamps=sometimes")
    assert code == 2 and "want auto, on or off" in err, err
    for args in (("--echo",), ("--connect",), ("--text",), ("--stamp",), ("-s", "64")):
        r = run_tsecho("ping", "%s:9" % LO, "--kernel-timestamps", *args, "-c", "1")
        assert r.code == 2 and r.err_lines(), (args, r.describe())
        assert len(r.err_lines()) == 1, r.describe()


def test_between_namespaces_the_network_parts_are_offset_corrected():
    """Over a veth pair into a network namespace of our own (root only),
    the target is not loopback, so ping corrects the network parts by its
    clock offset estimate and says with what bound.  Both ends still read
    one clock, so what the correction cannot move is exact: the five
    one-clock parts are non-negative, network out plus back (the offset
    cancels) too, and the parts still add up to the round trip."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        raise SkipTest("needs root and ip(8) for a network namespace")
    tag = os.getpid() % 100000
    ns, outer, inner = "tskt%d" % tag, "tskt%da" % tag, "tskt%db" % tag
    net = "10.213.%d." % (tag % 250)

    def ip(*args, check=True):
        r = subprocess.run(["ip"] + list(args), capture_output=True, text=True, timeout=10)
        if check and r.returncode != 0:
            raise SkipTest("ip %s: %s" % (" ".join(args), r.stderr.strip()))

    try:
        ip("netns", "add", ns)
        ip("link", "add", outer, "type", "veth", "peer", "name", inner)
        ip("link", "set", inner, "netns", ns)
        ip("addr", "add", net + "1/30", "dev", outer)
        ip("link", "set", outer, "up")
        ip("netns", "exec", ns, "ip", "addr", "add", net + "2/30", "dev", inner)
        ip("netns", "exec", ns, "ip", "link", "set", inner, "up")
        with Server("--engine", "epoll", "--kernel-timestamps", listen=net + "2",
                    wrap=("ip", "netns", "exec", ns)) as srv:
            for transport in ("--tcp", "--udp"):
                what = "veth " + transport
                r = run_tsecho("ping", "%s2:%d" % (net, srv.tcp_port), transport,
                               "--kernel-timestamps", "-c", "10", "-i", "0", "--json",
                               "--samples", timeout=30)
                assert r.code == 0, r.describe()
                b = json.loads(r.out)["breakdown_ms"]
                assert b["clock"] == "offset corrected", (what, b["clock"])
                assert b["network_bound"] > 0, (what, b["network_bound"])
                assert b["complete"] == 9, (what, b)
                for s in b["samples"]:
                    for p in ("client_send", "server_wakeup", "server_processing",
                              "server_send", "client_wakeup"):
                        assert s[p] is None or s[p] >= 0, (what, p, s)
                    if s["network_back"] is not None:
                        assert s["network_out"] + s["network_back"] >= 0, (what, s)
                        assert abs(s["remainder"]) <= REMAINDER_MS, (what, s)
            text = run_tsecho("ping", "%s2:%d" % (net, srv.tcp_port), "--kernel-timestamps",
                              "-c", "3", "-i", "0", "-q", timeout=30)
            assert re.search(r"network parts corrected by the clock offset estimate, "
                             r"each \+/- \d+\.\d{3} ms", text.out), text.describe()
    finally:
        ip("netns", "del", ns, check=False)
        ip("link", "del", outer, check=False)
