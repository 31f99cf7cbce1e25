"""Integration tests for `tsecho server --metrics`: the Prometheus page, its
HTTP server, and what it counts (docs/server.md, Metrics).

Real binary, port 0, real sockets, bounded waits.  Counters are asserted
exactly where the traffic makes them known; latencies never are.
"""

import math
import re
import socket
import subprocess
import time

from harness import (IO_TIMEOUT_S, ST_VERSION, Server, SkipTest, build_frame,
                     check_error, cpu_seconds, have_ipv6_loopback,
                     parse_stamp_reflector, recv_frame, require_tool, run_cli,
                     run_tsecho, stamp_sender_packet, tcp_connect,
                     text_exchange, udp_socket, wait_eof)

LO = "127.0.0.1"
METRICS_LISTEN_RE = re.compile(r"^listening on metrics (.+):(\d+)$")
HTTPD_MAX_CONNS = 32            # TS_HTTPD_MAX_CONNS
HTTPD_REQ_MAX = 8192            # TS_HTTPD_REQ_MAX
HTTPD_TIMEOUT_S = 3             # TS_HTTPD_TIMEOUT_NS
HTTPD_MAX_PER_SOURCE = 4        # TS_HTTPD_MAX_PER_SOURCE
PING_SIZE = 64                  # tsecho ping's default probe size

RESIDENCE_LE = ["1e-06", "2e-06", "5e-06", "1e-05", "2e-05", "5e-05",
                "0.0001", "0.0002", "0.0005", "0.001", "0.01", "0.1", "1",
                "+Inf"]
FAMILIES = {
    "tsecho_build_info": "gauge",
    "tsecho_server_start_time_seconds": "gauge",
    "tsecho_server_connections": "gauge",
    "tsecho_server_connections_total": "counter",
    "tsecho_server_connections_rejected_total": "counter",
    "tsecho_server_messages_total": "counter",
    "tsecho_server_received_bytes_total": "counter",
    "tsecho_server_sent_bytes_total": "counter",
    "tsecho_server_errors_total": "counter",
    "tsecho_server_limit_hits_total": "counter",
    "tsecho_server_residence_seconds": "histogram",
    "tsecho_server_metrics_requests_total": "counter",
}
TRAFFIC_SERIES = [("text", "tcp"), ("text", "udp"), ("binary", "tcp"),
                  ("binary", "udp"), ("stamp", "udp"), ("echo", "tcp"),
                  ("echo", "udp")]


# ------------------------------------------------------------ the format
# The text exposition format 0.0.4:
# prometheus.io/docs/instrumenting/exposition_formats

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE_RE = re.compile(r"^(%s)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+(-?\d+))?$" % _NAME)
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def _parse_labels(text, line):
    labels, pos = {}, 0
    while pos < len(text):
        m = _LABEL_RE.match(text, pos)
        assert m, "bad label text at %r in line %r" % (text[pos:], line)
        raw = m.group(2)
        # Escapes pair up left to right: \\ \" \n and nothing else.
        bad = [e for e in re.findall(r"\\(.)", raw) if e not in '\\"n']
        assert not bad, "bad escape \\%s in line %r" % (bad[0], line)
        value = re.sub(r'\\[\\"n]', lambda e: _ESCAPES[e.group(0)], raw)
        assert m.group(1) not in labels, "label %s twice in %r" % (m.group(1), line)
        labels[m.group(1)] = value
        pos = m.end()
        if m.group(3) == "":
            break
    return labels


def _parse_value(s, line):
    if s in ("+Inf", "-Inf", "NaN"):
        return float(s.replace("Inf", "inf").replace("NaN", "nan"))
    try:
        return float(s)
    except ValueError:
        raise AssertionError("bad value %r in line %r" % (s, line))


class Page:
    """A parsed exposition: families (name -> dict of type, help, and
    samples: a list of (name, labels, value)) in page order."""

    def __init__(self, text):
        self.text = text
        self.families = {}
        self.order = []
        self._parse(text)
        self._check()

    def _family_of(self, sample_name):
        """The declared family a sample name belongs to, or None."""
        fam = self.families.get(sample_name)
        if fam is not None and fam["type"] in ("counter", "gauge", "untyped"):
            return sample_name
        for suffix in ("_bucket", "_sum", "_count"):
            if sample_name.endswith(suffix):
                base = sample_name[:-len(suffix)]
                f = self.families.get(base)
                if f is not None and f["type"] in ("histogram", "summary"):
                    if suffix != "_bucket" or f["type"] == "histogram":
                        return base
        if fam is not None and fam["type"] == "summary":
            return sample_name
        return None

    def _parse(self, text):
        assert text.endswith("\n"), "page does not end with a newline: %r" % text[-80:]
        current, done = None, set()
        seen_series = set()
        for line in text.split("\n")[:-1]:
            assert line.strip(), "empty line in the page"
            if line.startswith("#"):
                parts = line.split(None, 3)
                if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                    name = parts[2]
                    assert re.fullmatch(_NAME, name), "bad family name in %r" % line
                    fam = self.families.get(name)
                    if fam is None:
                        assert name not in done, "family %s split up" % name
                        fam = self.families[name] = dict(type=None, help=None,
                                                         samples=[])
                        self.order.append(name)
                        if current is not None:
                            done.add(current)
                        current = name
                    assert current == name, "%s for %s among %s's lines" % (
                        parts[1], name, current)
                    key = parts[1].lower()
                    assert fam[key] is None, "two %s lines for %s" % (parts[1], name)
                    assert not fam["samples"], "%s after samples of %s" % (
                        parts[1], name)
                    value = parts[3] if len(parts) > 3 else ""
                    if key == "type":
                        assert value in ("counter", "gauge", "histogram",
                                         "summary", "untyped"), line
                    fam[key] = value
                continue
            m = _SAMPLE_RE.match(line)
            assert m, "line is neither comment nor sample: %r" % line
            name = m.group(1)
            labels = _parse_labels(m.group(2) or "", line)
            value = _parse_value(m.group(3), line)
            base = self._family_of(name)
            assert base is not None, "sample %r belongs to no declared family" % line
            assert base == current, "sample %r outside its family's group" % line
            series = (name, tuple(sorted(labels.items())))
            assert series not in seen_series, "series twice: %r" % line
            seen_series.add(series)
            self.families[base]["samples"].append((name, labels, value))

    def _check(self):
        for name, fam in self.families.items():
            assert fam["type"] is not None, "family %s has no TYPE" % name
            assert fam["help"], "family %s has no HELP" % name
            assert fam["samples"], "family %s has no samples" % name
            if fam["type"] == "counter":
                for _, labels, v in fam["samples"]:
                    assert v >= 0 and not math.isnan(v), \
                        "counter %s%r is %r" % (name, labels, v)
            if fam["type"] == "histogram":
                self._check_histogram(name, fam)

    def _check_histogram(self, name, fam):
        groups = {}
        for sname, labels, v in fam["samples"]:
            rest = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
            g = groups.setdefault(rest, dict(buckets=[], sum=None, count=None))
            if sname == name + "_bucket":
                assert "le" in labels, "bucket without le: %s%r" % (sname, labels)
                g["buckets"].append((labels["le"], v))
            elif sname == name + "_sum":
                g["sum"] = v
            else:
                g["count"] = v
        for rest, g in groups.items():
            where = "%s%r" % (name, dict(rest))
            b = g["buckets"]
            assert b, "%s: no buckets" % where
            assert g["sum"] is not None and g["count"] is not None, \
                "%s: _sum or _count missing" % where
            bounds = [_parse_value(le, where) for le, _ in b]
            assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds), \
                "%s: le not increasing: %r" % (where, [le for le, _ in b])
            assert b[-1][0] == "+Inf", "%s: last bucket is le=%s" % (where, b[-1][0])
            counts = [v for _, v in b]
            assert counts == sorted(counts), "%s: buckets not cumulative: %r" % (
                where, counts)
            assert counts[-1] == g["count"], "%s: +Inf bucket %r != _count %r" % (
                where, counts[-1], g["count"])
            assert g["sum"] >= 0 or g["count"] == 0, "%s: _sum %r" % (where, g["sum"])

    def value(self, name, **labels):
        """The value of the one sample with exactly these labels."""
        base = self._family_of(name)
        assert base is not None, "no family for %s in the page" % name
        found = [v for n, l, v in self.families[base]["samples"]
                 if n == name and l == labels]
        assert len(found) == 1, "%d samples %s%r; family has %r" % (
            len(found), name, labels, self.families[base]["samples"][:20])
        return found[0]

    def ivalue(self, name, **labels):
        v = self.value(name, **labels)
        assert v == int(v), "%s%r = %r is not an integer" % (name, labels, v)
        return int(v)


def test_page_parser_rejects_broken_pages():
    """The checks above catch what they claim to (a parser that accepts
    anything would make every other test here pass)."""
    good = ("# HELP h_seconds H.\n# TYPE h_seconds histogram\n"
            'h_seconds_bucket{le="1"} 1\nh_seconds_bucket{le="+Inf"} 2\n'
            "h_seconds_sum 3.5\nh_seconds_count 2\n"
            '# HELP c_total C.\n# TYPE c_total counter\nc_total{k="a\\"b\\\\c\\nd"} 4\n')
    page = Page(good)
    assert page.value("c_total", k='a"b\\c\nd') == 4
    assert page.value("h_seconds_count") == 2
    broken = {
        "undeclared": good + "stray 1\n",
        "not cumulative": good.replace('le="+Inf"} 2', 'le="+Inf"} 0'),
        "+Inf != count": good.replace("h_seconds_count 2", "h_seconds_count 3"),
        "no +Inf": good.replace('h_seconds_bucket{le="+Inf"} 2\n', ""),
        "no TYPE": good.replace("# TYPE c_total counter\n", ""),
        "bad escape": good.replace('\\"b', "\\tb"),
        "split family": good + "# HELP h_seconds H.\n",
        "duplicate": good + 'c_total{k="a\\"b\\\\c\\nd"} 4\n',
        "no newline": good[:-1],
        "negative counter": good.replace("} 4\n", "} -4\n"),
    }
    for why, text in broken.items():
        try:
            Page(text)
        except AssertionError:
            continue
        raise AssertionError("the page parser accepted a page with %s" % why)


# ------------------------------------------------------------ HTTP client

class Response:
    def __init__(self, raw):
        self.raw = raw
        head, sep, self.body = raw.partition(b"\r\n\r\n")
        assert sep, "no end of headers in the response: %r" % raw[:300]
        lines = head.decode("latin-1").split("\r\n")
        m = re.fullmatch(r"HTTP/1\.[01] (\d{3}) (.*)", lines[0])
        assert m, "bad status line %r" % lines[0]
        self.status, self.reason = int(m.group(1)), m.group(2)
        self.headers = {}
        for line in lines[1:]:
            k, colon, v = line.partition(":")
            assert colon and k == k.strip(), "bad header line %r" % line
            self.headers[k.lower()] = v.strip()

    def describe(self):
        return "%r" % self.raw[:400]


def http(port, request, timeout=IO_TIMEOUT_S):
    """Sends the raw request bytes and reads the response to EOF (the
    server closes every connection after one response)."""
    with tcp_connect(LO, port, timeout) as s:
        s.sendall(request)
        raw, _ = wait_eof(s, timeout)
    return Response(raw)


def get(port, path="/metrics", method="GET", version="HTTP/1.1", headers=b""):
    req = ("%s %s %s\r\nHost: %s:%d\r\n" % (method, path, version, LO, port)).encode()
    return http(port, req + headers + b"\r\n")


def scrape(srv, timeout=IO_TIMEOUT_S):
    """GET /metrics: the parsed page, after checking the response."""
    r = http(srv.metrics_port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", timeout)
    assert r.status == 200, "scrape: %s" % r.describe()
    assert r.headers.get("content-type", "").startswith("text/plain; version=0.0.4"), \
        r.headers
    assert int(r.headers["content-length"]) == len(r.body), \
        "Content-Length %s, body %d bytes" % (r.headers["content-length"], len(r.body))
    return Page(r.body.decode("utf-8"))


def metrics_server(*args, **kw):
    """A Server with --metrics 127.0.0.1:0; its port in metrics_port."""
    srv = Server("--metrics", "%s:0" % LO, *args, **kw)
    try:
        line = srv.wait_line(lambda l: METRICS_LISTEN_RE.match(l) is not None,
                             what="the metrics listening line")
        srv.metrics_port = int(METRICS_LISTEN_RE.match(line).group(2))
    except BaseException:
        srv.stop()
        raise
    return srv


def wait_value(srv, want, name, timeout=IO_TIMEOUT_S, **labels):
    """Scrapes until name{labels} == want (the server may not have seen a
    close yet); returns the last page."""
    deadline = time.monotonic() + timeout
    while True:
        page = scrape(srv)
        got = page.value(name, **labels)
        if got == want:
            return page
        assert time.monotonic() < deadline, "%s%r is %r after %.1f s, want %r" % (
            name, labels, got, timeout, want)
        time.sleep(0.05)


def ping(srv, *args, count=5):
    r = run_tsecho("ping", "%s:%d" % (LO, srv.tcp_port), "-c", str(count),
                   "-i", "0.01", "-W", "2s", "-q", *args, timeout=15)
    assert r.code == 0, r.describe()
    assert re.search(r"\b%d sent, %d received" % (count, count), r.out), r.describe()
    return r


# ------------------------------------------------------------ the page

def test_metrics_listening_line_and_families():
    with metrics_server() as srv:
        page = scrape(srv)
        assert list(page.families) == list(FAMILIES), \
            "families %r, want %r" % (list(page.families), list(FAMILIES))
        for name, type_ in FAMILIES.items():
            assert page.families[name]["type"] == type_, (name, page.families[name])
        info = page.families["tsecho_build_info"]["samples"]
        assert len(info) == 1 and info[0][2] == 1 and list(info[0][1]) == ["version"], info
        code, out, err = run_cli("--version")
        assert code == 0 and info[0][1]["version"] in out, \
            "build_info %r, tsecho --version %r %r" % (info, out, err)
        start = page.value("tsecho_server_start_time_seconds")
        assert abs(start - time.time()) < 60, "start time %r" % start
        # Every series exists from the start, at 0.
        for proto, transport in TRAFFIC_SERIES:
            for fam in ("messages", "received_bytes", "sent_bytes"):
                assert page.ivalue("tsecho_server_%s_total" % fam, protocol=proto,
                                   transport=transport) == 0
        stamp_tcp = [l for n, l, _ in page.families["tsecho_server_messages_total"]["samples"]
                     if l == dict(protocol="stamp", transport="tcp")]
        assert not stamp_tcp, "a stamp/tcp series is there"
        for kind in ("malformed", "io", "dropped", "resource"):
            assert page.ivalue("tsecho_server_errors_total", kind=kind) == 0
        for limit in ("max_clients", "fds", "max_message", "max_output",
                      "idle_timeout", "stamp_rate"):
            assert page.ivalue("tsecho_server_limit_hits_total", limit=limit) == 0
        for reason in ("max_clients", "fds"):
            assert page.ivalue("tsecho_server_connections_rejected_total",
                               reason=reason) == 0
        les = [l["le"] for n, l, _ in
               page.families["tsecho_server_residence_seconds"]["samples"]
               if n.endswith("_bucket")]
        assert les == RESIDENCE_LE, les
        assert page.ivalue("tsecho_server_residence_seconds_count") == 0
        # A scrape is counted once it is answered: the next page shows it.
        assert page.ivalue("tsecho_server_metrics_requests_total", outcome="ok") == 0
        assert scrape(srv).ivalue("tsecho_server_metrics_requests_total", outcome="ok") == 1


def test_metrics_count_traffic_by_protocol():
    n_tcp, n_udp = 7, 5
    with metrics_server("--stamp=0", "--echo=0") as srv:
        # Text over TCP (the seed protocol): two lines on one connection.
        text_msgs = [b"hello metrics\n", b"second\n"]
        with tcp_connect(LO, srv.tcp_port) as s:
            for m in text_msgs:
                text_exchange(s, m)
        # Text over UDP: one datagram.
        with udp_socket(LO) as u:
            u.sendto(b"udp text", (LO, srv.udp_port))
            reply, _ = u.recvfrom(1000)
            assert reply.endswith(b":udp text"), reply
        page = scrape(srv)
        text_in = sum(map(len, text_msgs))
        assert page.ivalue("tsecho_server_messages_total", protocol="text",
                           transport="tcp") == len(text_msgs)
        assert page.ivalue("tsecho_server_received_bytes_total", protocol="text",
                           transport="tcp") == text_in
        assert page.ivalue("tsecho_server_sent_bytes_total", protocol="text",
                           transport="tcp") > text_in
        assert page.ivalue("tsecho_server_messages_total", protocol="text",
                           transport="udp") == 1
        assert page.ivalue("tsecho_server_received_bytes_total", protocol="text",
                           transport="udp") == len(b"udp text")
        assert page.ivalue("tsecho_server_connections_total") == 1

        # Binary probes with tsecho ping.
        ping(srv, "--tcp", count=n_tcp)
        ping(srv, "--udp", count=n_udp)
        # STAMP: one packet.
        with udp_socket(LO) as u:
            pkt = stamp_sender_packet(9)
            u.sendto(pkt, (LO, srv.stamp_port))
            r = parse_stamp_reflector(u.recvfrom(1000)[0])
            assert r["sender_seq"] == 9, r
        # Echo, TCP and UDP.
        with tcp_connect(LO, srv.echo_port) as s:
            s.sendall(b"echo me")
            assert wait_eof_or(s, b"echo me") == b"echo me"
        with udp_socket(LO) as u:
            u.sendto(b"echo dgram", (LO, srv.echo_addrs["echo-udp"][0][1]))
            assert u.recvfrom(1000)[0] == b"echo dgram"

        page = wait_value(srv, 0, "tsecho_server_connections")
        msgs = lambda p, t: page.ivalue("tsecho_server_messages_total", protocol=p,
                                        transport=t)
        rx = lambda p, t: page.ivalue("tsecho_server_received_bytes_total",
                                      protocol=p, transport=t)
        tx = lambda p, t: page.ivalue("tsecho_server_sent_bytes_total", protocol=p,
                                      transport=t)
        assert msgs("binary", "tcp") == n_tcp
        assert msgs("binary", "udp") == n_udp
        # A reply is as long as its probe.
        assert rx("binary", "tcp") == tx("binary", "tcp") == n_tcp * PING_SIZE
        assert rx("binary", "udp") == tx("binary", "udp") == n_udp * PING_SIZE
        assert msgs("stamp", "udp") == 1
        assert rx("stamp", "udp") == tx("stamp", "udp") == len(pkt)
        assert msgs("echo", "tcp") == 1
        assert rx("echo", "tcp") == tx("echo", "tcp") == len(b"echo me")
        assert msgs("echo", "udp") == 1
        assert rx("echo", "udp") == tx("echo", "udp") == len(b"echo dgram")
        # Text counters moved only by what ping's TCP hello may have said.
        assert msgs("text", "tcp") == len(text_msgs)
        assert msgs("text", "udp") == 1
        # Text, ping --tcp and echo-tcp connections.
        assert page.ivalue("tsecho_server_connections_total") == 3
        # Every binary and STAMP reply has a residence time.
        count = page.ivalue("tsecho_server_residence_seconds_count")
        assert count == n_tcp + n_udp + 1, "residence count %d, want %d" % (
            count, n_tcp + n_udp + 1)
        res_sum = page.value("tsecho_server_residence_seconds_sum")
        assert 0 <= res_sum < count * 1.0, "residence sum %r for %d" % (res_sum, count)
        for kind in ("malformed", "io", "dropped", "resource"):
            assert page.ivalue("tsecho_server_errors_total", kind=kind) == 0, kind
        # The summary line at exit agrees with the page.
        srv.stop()
        summary = [l for l in srv.lines() if l.startswith("summary:")]
        assert len(summary) == 1, srv.describe()
        m = re.search(r"connections (\d+), rejected (\d+), messages (\d+)", summary[0])
        total_msgs = sum(msgs(p, t) for p, t in TRAFFIC_SERIES)
        assert m and int(m.group(1)) == 3 and int(m.group(3)) == total_msgs, \
            "summary %r, page: %d messages" % (summary[0], total_msgs)


def wait_eof_or(sock, want, timeout=IO_TIMEOUT_S):
    """Reads until len(want) bytes came (or EOF); returns them."""
    deadline, buf = time.monotonic() + timeout, b""
    while len(buf) < len(want) and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        buf += chunk
    return buf


def test_metrics_count_errors_and_rejections():
    with metrics_server("--max-clients", "2", "--max-clients-per-source", "2") as srv:
        # A frame of an unknown version: an error frame, then the server
        # stops answering on that connection.
        with tcp_connect(LO, srv.tcp_port) as s:
            s.sendall(build_frame(seq=5, version=2))
            check_error(recv_frame(s)["raw"], ST_VERSION)
        # A UDP datagram that starts like a frame and is not one.
        with udp_socket(LO) as u:
            u.sendto(b"\xc0TSE" + b"\0" * 10, (LO, srv.udp_port))
        deadline = time.monotonic() + IO_TIMEOUT_S
        while True:
            page = scrape(srv)
            malformed = page.ivalue("tsecho_server_errors_total", kind="malformed")
            if malformed == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert malformed == 2, "errors_total{kind=malformed} %d, want 2" % malformed
        assert page.ivalue("tsecho_server_messages_total", protocol="binary",
                           transport="tcp") == 0
        page = wait_value(srv, 0, "tsecho_server_connections")

        # --max-clients 2: a third connection is closed at accept.
        a, b = tcp_connect(LO, srv.tcp_port), tcp_connect(LO, srv.tcp_port)
        try:
            text_exchange(a, b"one\n")
            text_exchange(b, b"two\n")
            with tcp_connect(LO, srv.tcp_port) as c:
                data, _ = wait_eof(c, IO_TIMEOUT_S, allow_reset=True)
                assert data == b"", data
            # The metrics endpoint is not one of the clients.
            page = scrape(srv)
            assert page.ivalue("tsecho_server_connections") == 2
            assert page.ivalue("tsecho_server_connections_rejected_total",
                               reason="max_clients") == 1
            assert page.ivalue("tsecho_server_limit_hits_total",
                               limit="max_clients") == 1
            assert page.ivalue("tsecho_server_connections_rejected_total",
                               reason="fds") == 0
            # Rejected connections are not accepted ones.
            assert page.ivalue("tsecho_server_connections_total") == 3
        finally:
            a.close()
            b.close()
        wait_value(srv, 0, "tsecho_server_connections")


# ------------------------------------------------------------ HTTP

def test_metrics_http_statuses():
    with metrics_server() as srv:
        port = srv.metrics_port
        for path in ("/", "/metricsx", "/metrics/", "/other"):
            r = get(port, path)
            assert r.status == 404, "GET %s: %s" % (path, r.describe())
            assert int(r.headers["content-length"]) == len(r.body), r.describe()
            assert r.headers.get("connection", "").lower() == "close", r.describe()
        for method in ("POST", "PUT", "DELETE", "OPTIONS"):
            r = get(port, "/metrics", method=method,
                    headers=b"Content-Length: 0\r\n" if method in ("POST", "PUT") else b"")
            assert r.status == 405, "%s: %s" % (method, r.describe())
            allow = {m.strip() for m in r.headers.get("allow", "").split(",")}
            assert allow == {"GET", "HEAD"}, "%s: Allow %r" % (method, r.headers)

        # HEAD: the headers of GET, no body.
        full = get(port)
        r = get(port, method="HEAD")
        assert r.status == 200, r.describe()
        assert r.body == b"", "HEAD got a body: %r" % r.body[:100]
        length = int(r.headers["content-length"])
        assert abs(length - len(full.body)) < 200 and length > 1000, \
            "HEAD Content-Length %d, GET body %d" % (length, len(full.body))
        assert r.headers["content-type"] == full.headers["content-type"]

        # A query string is ignored; HTTP/1.0 is answered.
        assert get(port, "/metrics?x=1&name[]=y").status == 200
        r = http(port, b"GET /metrics HTTP/1.0\r\n\r\n")
        assert r.status == 200, r.describe()
        Page(r.body.decode())
        # Bare LF line endings, as some tools send.
        assert http(port, b"GET /metrics HTTP/1.1\n\n").status == 200

        # Requests that are not HTTP: 400.
        for req in (b"garbage\r\n\r\n", b"GET /metrics\r\n\r\n",
                    b"GET  /metrics HTTP/1.1\r\n\r\n", b"GET /metrics FTP/1.0\r\n\r\n",
                    b"\r\n\r\n"):
            r = http(port, req)
            assert r.status == 400, "%r: %s" % (req, r.describe())
        # A request arriving a byte at a time, well within the deadline.
        with tcp_connect(LO, port) as s:
            for byte in b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n":
                s.sendall(bytes([byte]))
                time.sleep(0.005)
            r = Response(wait_eof(s)[0])
        assert r.status == 200, r.describe()

        # 10 KB of headers: 431, and the connection ends cleanly (the
        # server reads the rest rather than resetting).
        big = b"".join(b"X-Filler-%04d: %s\r\n" % (i, b"y" * 80) for i in range(110))
        assert len(big) > 10000
        r = get(port, headers=big)
        assert r.status == 431, r.describe()

        page = scrape(srv)
        ok = page.ivalue("tsecho_server_metrics_requests_total", outcome="ok")
        err = page.ivalue("tsecho_server_metrics_requests_total", outcome="error")
        # GET, HEAD, ?x=1, HTTP/1.0, LF, byte-wise = 6 ok; 4 + 4 + 5 + 1.
        assert ok == 6, "ok %d, want 6" % ok
        assert err == 14, "error %d, want 14" % err
        assert page.ivalue("tsecho_server_metrics_requests_total", outcome="rejected") == 0
        assert page.ivalue("tsecho_server_metrics_requests_total", outcome="timeout") == 0

        # A NUL byte before the end of the headers: not HTTP.
        r = http(port, b"GET /met\0rics HTTP/1.1\r\n\r\n")
        assert r.status == 400, r.describe()


def test_metrics_slow_and_silent_clients_do_not_block():
    """A client that sends half a request and stalls, and one that sends
    nothing, hold neither scrapes nor probes, and are closed at the
    3 s deadline (and not long after)."""
    with metrics_server() as srv:
        t0 = time.monotonic()
        slow = tcp_connect(LO, srv.metrics_port)
        silent = tcp_connect(LO, srv.metrics_port)
        try:
            slow.sendall(b"GET /met")
            time.sleep(0.2)
            for _ in range(3):
                t = time.monotonic()
                scrape(srv, timeout=2.0)
                assert time.monotonic() - t < 2.0
            ping(srv, "--tcp", count=5)
            ping(srv, "--udp", count=5)
            # Both are still open, unanswered.
            for s in (slow, silent):
                s.settimeout(0.2)
                try:
                    got = s.recv(100)
                except socket.timeout:
                    got = None
                assert got is None, "a stalled client got %r" % got
            # Then closed without a response, within 8 s of connecting.
            for s in (slow, silent):
                left = t0 + HTTPD_TIMEOUT_S + 5.0 - time.monotonic()
                data, _ = wait_eof(s, max(left, 0.1), allow_reset=True)
                assert data == b"", "a stalled client got %r" % data[:100]
            elapsed = time.monotonic() - t0
            assert elapsed >= HTTPD_TIMEOUT_S - 1, \
                "stalled clients closed after %.1f s, before the %d s deadline" % (
                    elapsed, HTTPD_TIMEOUT_S)
        finally:
            slow.close()
            silent.close()
        page = scrape(srv)
        assert page.ivalue("tsecho_server_metrics_requests_total", outcome="timeout") == 2
        assert page.ivalue("tsecho_server_metrics_requests_total", outcome="ok") == 3


def idle_from(addr, port):
    """A connection to port from local address addr that sends nothing."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(IO_TIMEOUT_S)
    s.bind((addr, 0))
    s.connect((LO, port))
    return s


def test_metrics_too_many_connections():
    """One address holds at most its share of the endpoint: connections
    past it are closed at once, probes go on, and scrapes from elsewhere
    are answered."""
    n = HTTPD_MAX_PER_SOURCE + 8
    with metrics_server() as srv:
        conns = []
        try:
            for _ in range(n):
                conns.append(idle_from("127.0.0.2", srv.metrics_port))
            # The kernel queues them in order: those past the share are
            # closed unanswered.
            for s in conns[HTTPD_MAX_PER_SOURCE:]:
                data, _ = wait_eof(s, IO_TIMEOUT_S, allow_reset=True)
                assert data == b"", data
            page = scrape(srv, timeout=2.0)
            r = ping(srv, "--tcp", count=5)
            assert r.elapsed < 5, r.describe()
            ping(srv, "--udp", count=5)
        finally:
            for s in conns:
                s.close()
        assert page.ivalue("tsecho_server_metrics_requests_total",
                           outcome="rejected") == n - HTTPD_MAX_PER_SOURCE
        assert page.ivalue("tsecho_server_metrics_requests_total", outcome="evicted") == 0


def test_metrics_scrape_is_never_locked_out():
    """Idle connections from many addresses hold every place and are
    opened again before each deadline (what locked Prometheus out): every
    scrape still gets its page, by closing the connection that has waited
    longest for a request, and probes go on."""
    n_addrs = (HTTPD_MAX_CONNS + 8) // HTTPD_MAX_PER_SOURCE
    with metrics_server() as srv:
        conns = []
        ok = 0
        try:
            for rnd in range(3):
                # Reopen the whole set, as the attacker did every 9 s.
                for s in conns:
                    s.close()
                conns = [idle_from("127.0.1.%d" % (a + 1), srv.metrics_port)
                         for a in range(n_addrs)
                         for _ in range(HTTPD_MAX_PER_SOURCE)]
                time.sleep(0.2)
                for _ in range(3):
                    t = time.monotonic()
                    scrape(srv, timeout=2.0)
                    assert time.monotonic() - t < 2.0
                    ok += 1
                ping(srv, "--tcp", count=3)
        finally:
            for s in conns:
                s.close()
        assert ok == 9, "%d of 9 scrapes answered" % ok
        page = scrape(srv)
        assert page.ivalue("tsecho_server_metrics_requests_total", outcome="ok") == 9
        assert page.ivalue("tsecho_server_metrics_requests_total", outcome="evicted") >= 9


def test_metrics_no_spin_out_of_fds():
    """Not yet a test (rename to test_... once src/lib/httpd.c on_accept
    handles EMFILE): with every descriptor in use, one waiting metrics
    connection must not make the loop spin."""
    with metrics_server("--max-clients", "1000", "-q", nofile=48) as srv:
        conns = []
        try:
            for _ in range(60):
                try:
                    conns.append(tcp_connect(LO, srv.tcp_port))
                except OSError:
                    break
            with tcp_connect(LO, srv.metrics_port) as m:
                m.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
                time.sleep(0.3)
                c0 = cpu_seconds(srv.pid)
                time.sleep(1.0)
                used = cpu_seconds(srv.pid) - c0
                assert used < 0.3, "server used %.2f s of CPU in 1 s while out " \
                    "of descriptors with a metrics peer waiting" % used
        finally:
            for s in conns:
                s.close()


# ------------------------------------------------------------ promtool

def test_metrics_promtool_check():
    promtool = require_tool("promtool", "prometheus")
    with metrics_server("--stamp=0", "--echo=0") as srv:
        ping(srv, "--tcp", count=3)
        ping(srv, "--udp", count=3)
        with tcp_connect(LO, srv.metrics_port) as s:
            s.sendall(b"GET /nothing HTTP/1.1\r\n\r\n")
            wait_eof(s)
        r = http(srv.metrics_port, b"GET /metrics HTTP/1.1\r\n\r\n")
        assert r.status == 200, r.describe()
    p = subprocess.run([promtool, "check", "metrics"], input=r.body,
                       capture_output=True, timeout=30)
    out = (p.stdout + p.stderr).decode("utf-8", "replace").strip()
    assert p.returncode == 0 and not out, \
        "promtool check metrics: exit %d, output:\n%s" % (p.returncode, out)


# ------------------------------------------------------------ the option

def test_metrics_bad_address_fails_to_start():
    taken = socket.socket()
    taken.bind((LO, 0))
    taken.listen(1)
    try:
        for value in ("nonsense", "%s:99999" % LO, LO, "%s:" % LO, "%s:-1" % LO,
                      "nosuchhost.invalid:0", "%s:%d" % (LO, taken.getsockname()[1])):
            r = run_tsecho("server", "-l", LO, "-p", "0", "--metrics", value,
                           timeout=10)
            assert r.code not in (0, None), "--metrics %s: %s" % (value, r.describe())
            assert len(r.err_lines()) == 1 and value in r.err, \
                "--metrics %s: want one error line naming it; %s" % (value, r.describe())
    finally:
        taken.close()


def test_metrics_ipv6_loopback():
    if not have_ipv6_loopback():
        raise SkipTest("no IPv6 loopback")
    with Server("--metrics", "[::1]:0") as srv:
        line = srv.wait_line(lambda l: l.startswith("listening on metrics "))
        m = re.fullmatch(r"listening on metrics \[?::1\]?:(\d+)", line)
        assert m, line
        s = socket.create_connection(("::1", int(m.group(1))), timeout=IO_TIMEOUT_S)
        with s:
            s.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
            r = Response(wait_eof(s)[0])
        assert r.status == 200, r.describe()
        Page(r.body.decode())
