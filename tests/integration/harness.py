"""Integration test harness for tsecho: start the real binary, talk to it.

Python 3 standard library only.  Every wait is bounded and every socket
operation has a timeout, so a broken server makes a test fail, never hang.

The binary is $TSECHO (relative to the current directory, which is the repo
root when the suite runs), or ./tsecho at the repository root.
"""

import atexit
import json
import os
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

START_TIMEOUT_S = 5.0   # listening lines must appear within this
STOP_TIMEOUT_S = 5.0    # SIGTERM, then SIGKILL after this
IO_TIMEOUT_S = 5.0      # default for every socket operation

# A reply's "<server time>:" prefix (docs/protocol.md, section 1).
TIME_RE = rb"\d+\.\d{6}"
TIME_PREFIX_MAX = 21    # at most 21 bytes of prefix (protocol.md, UDP)

# Binary probe protocol v1 (docs/protocol.md, section 2).
MAGIC = b"\xc0TSE"
HDR_LEN = 48
TYPE_PROBE, TYPE_REPLY, TYPE_ERROR = 1, 2, 3
ST_OK, ST_MALFORMED, ST_TOO_BIG, ST_VERSION, ST_TYPE = 0, 1, 2, 3, 4
# magic, version, type, hdr_len, frame_len, status, flags, seq, t1, t2, t3
_HDR = struct.Struct(">4sBBHIHHQQQQ")
assert _HDR.size == HDR_LEN


class SkipTest(Exception):
    """Raised by a test that cannot run on this host; the runner prints SKIP."""


def tsecho_path():
    path = os.environ.get("TSECHO")
    if path:
        return os.path.abspath(path)
    return os.path.join(REPO, "tsecho")


def require_binary():
    path = tsecho_path()
    if not os.access(path, os.X_OK):
        raise AssertionError("tsecho binary not found or not executable at %s "
                             "(build it with make, or set TSECHO)" % path)
    return path


def require_tool(names, package, paths=()):
    """Path of an external tool the test needs, or SkipTest when it is
    missing -- an AssertionError instead when TSECHO_REQUIRE_TOOLS=1 (as in
    CI, which installs every tool).

    names is one executable name or a sequence of them, looked up on $PATH
    in order; paths are fixed locations tried after that (the first one
    that is executable wins).  package is the Debian package to install,
    named in the message together with the first name."""
    if isinstance(names, str):
        names = (names,)
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    for path in paths:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    msg = "%s is not installed (Debian package %s)" % (names[0], package)
    if os.environ.get("TSECHO_REQUIRE_TOOLS") == "1":
        raise AssertionError(msg + " and TSECHO_REQUIRE_TOOLS=1")
    raise SkipTest(msg + "; set TSECHO_REQUIRE_TOOLS=1 to make this a failure")


def http_get(port, path, timeout=IO_TIMEOUT_S, host="127.0.0.1"):
    """(status, body text) of GET http://host:port/path, whatever the status
    (an error status is returned, not raised); (None, reason) when nothing
    answers (refused, reset, timed out), so a caller can poll until a
    server is up.  A 2xx body must be UTF-8 (UnicodeDecodeError otherwise:
    /metrics and the Prometheus API promise it); an error body is decoded
    leniently, as it is only shown in messages."""
    url = "http://%s:%d%s" % ("[%s]" % host if ":" in host else host, port,
                              path)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (OSError, urllib.error.URLError) as e:
        return None, str(e)
    return status, raw.decode("utf-8")


# ---------------------------------------------------------------- frames

def build_frame(type_=TYPE_PROBE, seq=0, t1=0, t2=0, t3=0, payload=b"",
                ext=b"", version=1, hdr_len=None, frame_len=None, status=0,
                flags=0, magic=MAGIC):
    """Bytes of one frame; hdr_len and frame_len are computed unless given."""
    if hdr_len is None:
        hdr_len = HDR_LEN + len(ext)
    if frame_len is None:
        frame_len = HDR_LEN + len(ext) + len(payload)
    hdr = _HDR.pack(magic, version, type_, hdr_len, frame_len, status, flags,
                    seq, t1, t2, t3)
    return hdr + ext + payload


def build_ext(ext_type, value):
    """One extension TLV, zero-padded to a multiple of 4."""
    raw = struct.pack(">HH", ext_type, len(value)) + value
    return raw + b"\0" * (-len(raw) % 4)


def parse_frame(buf):
    """Dict of the header fields of the frame at buf, plus its payload."""
    if len(buf) < HDR_LEN:
        raise AssertionError("frame shorter than a header: %d bytes: %r"
                             % (len(buf), buf[:64]))
    (magic, version, type_, hdr_len, frame_len, status, flags, seq, t1, t2,
     t3) = _HDR.unpack_from(buf)
    return dict(magic=magic, version=version, type=type_, hdr_len=hdr_len,
                frame_len=frame_len, status=status, flags=flags, seq=seq,
                t1=t1, t2=t2, t3=t3, ext=buf[HDR_LEN:hdr_len],
                payload=buf[hdr_len:frame_len], raw=buf)


def recv_frame(sock, timeout=IO_TIMEOUT_S):
    """Reads exactly one frame from a stream socket and parses it."""
    head = recv_exact(sock, HDR_LEN, timeout)
    f = parse_frame(head)
    if f["magic"] != MAGIC:
        raise AssertionError("reply does not start with the magic: %r" % head)
    if f["frame_len"] < HDR_LEN or f["frame_len"] > (1 << 20):
        raise AssertionError("reply frame_len out of range: %d" % f["frame_len"])
    rest = recv_exact(sock, f["frame_len"] - HDR_LEN, timeout)
    return parse_frame(head + rest)


def check_reply(probe, reply_raw, now_ns=None):
    """Asserts reply_raw is the reply to probe bytes (protocol.md, Exchange)."""
    if now_ns is None:
        now_ns = time.time_ns()
    p, r = parse_frame(probe), parse_frame(reply_raw)
    assert len(reply_raw) == len(probe), \
        "reply is %d bytes, probe was %d" % (len(reply_raw), len(probe))
    assert r["magic"] == MAGIC, r["magic"]
    assert r["type"] == TYPE_REPLY, "reply type %d, want 2 (status %d)" % (
        r["type"], r["status"])
    for k in ("version", "hdr_len", "frame_len", "status", "flags", "seq",
              "t1", "ext", "payload"):
        assert r[k] == p[k], "reply field %s differs: %r != %r" % (
            k, r[k] if k not in ("ext", "payload") else r[k][:32],
            p[k] if k not in ("ext", "payload") else p[k][:32])
    assert r["t2"] != 0 and r["t3"] != 0, "t2=%d t3=%d" % (r["t2"], r["t3"])
    assert r["t3"] >= r["t2"], "t3 %d < t2 %d" % (r["t3"], r["t2"])
    for k in ("t2", "t3"):
        assert abs(r[k] - now_ns) < 60 * 10**9, \
            "%s=%d is not within 60 s of local time %d" % (k, r[k], now_ns)
    return r


def check_error(raw, status, seq=None):
    """Asserts raw is a 48-byte error frame with this status."""
    assert len(raw) == HDR_LEN, "error frame is %d bytes, want 48" % len(raw)
    e = parse_frame(raw)
    assert e["magic"] == MAGIC, e["magic"]
    assert e["version"] == 1, e["version"]
    assert e["type"] == TYPE_ERROR, "type %d, want 3" % e["type"]
    assert e["status"] == status, "status %d, want %d" % (e["status"], status)
    assert e["hdr_len"] == HDR_LEN and e["frame_len"] == HDR_LEN, \
        "hdr_len %d frame_len %d" % (e["hdr_len"], e["frame_len"])
    assert e["t1"] == e["t2"] == e["t3"] == 0, \
        "times not 0: %d %d %d" % (e["t1"], e["t2"], e["t3"])
    if seq is not None:
        assert e["seq"] == seq, "seq %d, want %d" % (e["seq"], seq)
    return e


# ---------------------------------------------------------------- sockets

def tcp_connect(host, port, timeout=IO_TIMEOUT_S):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def udp_socket(host, timeout=IO_TIMEOUT_S):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    return s


def recv_exact(sock, n, timeout=IO_TIMEOUT_S):
    """Exactly n bytes, or AssertionError on EOF or when timeout passes."""
    deadline = time.monotonic() + timeout
    buf = b""
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out after %.1f s with %d of %d bytes: %r"
                                 % (timeout, len(buf), n, buf[:80]))
        sock.settimeout(left)
        try:
            chunk = sock.recv(n - len(buf))
        except socket.timeout:
            continue
        if not chunk:
            raise AssertionError("EOF after %d of %d bytes: %r"
                                 % (len(buf), n, buf[:80]))
        buf += chunk
    return buf


def recv_until(sock, done, timeout=IO_TIMEOUT_S, what="reply"):
    """Reads until done(buf) is true; AssertionError on EOF or timeout."""
    deadline = time.monotonic() + timeout
    buf = b""
    while not done(buf):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out after %.1f s waiting for %s; have %r"
                                 % (timeout, what, buf[-200:]))
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            raise AssertionError("EOF while waiting for %s; have %r"
                                 % (what, buf[-200:]))
        buf += chunk
    return buf


def recv_lines(sock, n, timeout=IO_TIMEOUT_S):
    """Reads until n LF-terminated lines are in; returns the raw bytes."""
    return recv_until(sock, lambda b: b.count(b"\n") >= n, timeout,
                      "%d reply lines" % n)


def wait_eof(sock, timeout=IO_TIMEOUT_S, allow_reset=False):
    """Drains sock until EOF; returns (data, how) with how 'eof' or 'reset'.

    Fails when the connection stays open past timeout, or on a reset unless
    allow_reset."""
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("connection still open after %.1f s (read %d bytes: %r)"
                                 % (timeout, len(data), data[-80:]))
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            if allow_reset:
                return data, "reset"
            raise AssertionError("connection reset instead of EOF (read %r)"
                                 % data[-80:])
        if not chunk:
            return data, "eof"
        data += chunk


def text_reply_re(msg):
    return re.compile(b"(" + TIME_RE + b"):" + re.escape(msg), re.S)


def check_time_field(t_bytes, now=None):
    """Asserts a text timestamp has 6 decimals and is within 60 s of now."""
    if now is None:
        now = time.time()
    assert re.fullmatch(TIME_RE, t_bytes), "bad timestamp %r" % t_bytes
    assert abs(float(t_bytes) - now) < 60, \
        "timestamp %s is not within 60 s of local time %.6f" % (t_bytes, now)


def text_exchange(sock, msg, timeout=IO_TIMEOUT_S):
    """Sends msg and expects exactly b'<T>:' + msg back; returns T (bytes).

    msg must contain at most one LF, at its end, so it is one message."""
    sock.settimeout(timeout)
    sock.sendall(msg)
    pat = text_reply_re(msg)
    # Stop once the message is back after a ':' (a whole reply, right or
    # wrong), or once more arrived than any right reply holds.
    buf = recv_until(sock, lambda b: b.endswith(b":" + msg) or
                     len(b) > len(msg) + TIME_PREFIX_MAX,
                     timeout, "reply to %r" % msg[:40])
    m = pat.fullmatch(buf)
    assert m, "reply %r does not match <T>:%r" % (buf[:120], msg[:60])
    check_time_field(m.group(1))
    return m.group(1)


def tcp_state(local_port, remote_port):
    """State (hex string, '01' = ESTABLISHED) of the TCP socket with this
    local and remote port, from /proc/net/tcp{,6}; None when there is none."""
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            lport = int(cols[1].rsplit(":", 1)[1], 16)
            rport = int(cols[2].rsplit(":", 1)[1], 16)
            if lport == local_port and rport == remote_port:
                return cols[3]
    return None


def have_ipv6_loopback():
    if not socket.has_ipv6:
        return False
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        return False
    try:
        s.bind(("::1", 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


def cpu_seconds(pid):
    """utime + stime of a process, in seconds, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_kb(pid):
    """The resident set size of a process, in kB, from /proc/PID/status."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def raise_nofile(want):
    """Raises this process's soft RLIMIT_NOFILE to at least want (if the hard
    limit allows); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    return soft


# ---------------------------------------------------------------- server

_LISTEN_RE = re.compile(r"^listening on (tcp|udp) (.+):(\d+)$")
# The extra listeners of --stamp and --echo (tsecho server --help).
_EXTRA_LISTEN_RE = re.compile(r"^listening on (stamp|echo-tcp|echo-udp) (.+):(\d+)$")
EXTRA_PROTOS = ("stamp", "echo-tcp", "echo-udp")
_live = []   # servers not yet stopped, killed at exit as a last resort


def _pipe_reader(stream, sink, cond):
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\n")
        with cond:
            sink.append(line)
            cond.notify_all()
    with cond:
        sink.append(None)          # end of stream marker
        cond.notify_all()


class Server:
    """A running `tsecho server`; use as a context manager so it is stopped.

    Attributes after start: tcp_port, udp_port, tcp_addrs, udp_addrs; with
    --stamp[=PORT] also stamp_port and stamp_addrs, with --echo[=PORT]
    echo_port (that of echo-tcp) and echo_addrs (a dict of echo-tcp and
    echo-udp lists)."""

    def __init__(self, *args, listen="127.0.0.1", nofile=None, json_log=False,
                 listeners=1, env=None, wrap=()):
        """Starts `tsecho server [-l listen -p 0] ARGS` and waits until it has
        printed `listeners` tcp and `listeners` udp listening lines (fewer of
        a kind with --no-tcp/--no-udp).  nofile sets its RLIMIT_NOFILE, env
        its environment (default: this process's); wrap is a command that
        runs it (`wrap... tsecho server ...`)."""
        self.args = list(wrap) + [require_binary(), "server"]
        if listen is not None:
            self.args += ["-l", listen, "-p", "0"]
        # run.py --engine NAME: every server of the run on that engine.
        if os.environ.get("TSECHO_ENGINE") and "--engine" not in args:
            self.args += ["--engine", os.environ["TSECHO_ENGINE"]]
        self.args += list(args)
        self.json_log = json_log or "json" in args
        preexec = None
        if nofile is not None:
            def preexec():
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE,
                                     preexec_fn=preexec, env=env)
        _live.append(self)
        self.pid = self.proc.pid
        self.cond = threading.Condition()
        self.out, self.err = [], []
        self.threads = [
            threading.Thread(target=_pipe_reader, daemon=True,
                             args=(self.proc.stdout, self.out, self.cond)),
            threading.Thread(target=_pipe_reader, daemon=True,
                             args=(self.proc.stderr, self.err, self.cond)),
        ]
        for t in self.threads:
            t.start()
        self.returncode = None
        self.tcp_port = self.udp_port = None
        self.tcp_addrs, self.udp_addrs = [], []
        self.stamp_port = self.echo_port = None
        self.stamp_addrs = []
        self.echo_addrs = {"echo-tcp": [], "echo-udp": []}
        has = lambda opt: any(a == opt or str(a).startswith(opt + "=")
                              for a in args)
        self._want_extra = {
            "stamp": listeners if has("--stamp") else 0,
            "echo-tcp": listeners if has("--echo") else 0,
            "echo-udp": listeners if has("--echo") else 0,
        }
        try:
            self._wait_listening(0 if "--no-tcp" in args else listeners,
                                 0 if "--no-udp" in args else listeners)
        except BaseException:
            self.stop()
            raise

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        code = self.stop()
        if exc_type is None:
            # Every test ends with SIGTERM (the spec: exit 0), and a clean
            # run leaves no sanitizer report behind.
            self.check_clean_exit(code)
        return False

    def check_clean_exit(self, code):
        reports = [l for l in self.stderr_lines()
                   if "Sanitizer" in l or "runtime error:" in l]
        assert not reports, "sanitizer report: %s" % "\n".join(
            self.stderr_lines()[-40:])
        assert code == 0, "server exit %r after SIGTERM, want 0; %s" % (
            code, self.describe())

    # -- output

    def lines(self):
        with self.cond:
            return [l for l in self.out if l is not None]

    def stderr_lines(self):
        with self.cond:
            return [l for l in self.err if l is not None]

    def describe(self):
        out, err = self.lines(), self.stderr_lines()
        return ("stdout (%d lines, last 15): %r\nstderr: %r"
                % (len(out), out[-15:], err[-10:]))

    def wait_line(self, pred, timeout=IO_TIMEOUT_S, start=0, what="line"):
        """First stdout line (index >= start) for which pred(line) is true."""
        deadline = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.out):
                    line = self.out[i]
                    if line is None:
                        raise AssertionError("server stdout ended before %s; %s"
                                             % (what, self._describe_locked()))
                    if pred(line):
                        return line
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no %s within %.1f s; %s"
                                         % (what, timeout, self._describe_locked()))
                self.cond.wait(left)

    def _describe_locked(self):
        out = [l for l in self.out if l is not None]
        err = [l for l in self.err if l is not None]
        return ("stdout (%d lines, last 15): %r; stderr: %r; exit %r"
                % (len(out), out[-15:], err[-10:], self.proc.poll()))

    def _parse_listening(self, line):
        if self.json_log:
            try:
                ev = json.loads(line)
            except ValueError:
                return None
            if not isinstance(ev, dict) or ev.get("event") != "listening":
                return None
            proto, addr = ev.get("proto"), str(ev.get("addr", ""))
            host, _, port = addr.rpartition(":")
            if proto not in ("tcp", "udp") + EXTRA_PROTOS or not port.isdigit():
                raise AssertionError("bad listening event: %r" % line)
            return proto, host, int(port)
        m = _LISTEN_RE.match(line) or _EXTRA_LISTEN_RE.match(line)
        if not m:
            return None
        return m.group(1), m.group(2), int(m.group(3))

    def _wait_listening(self, want_tcp, want_udp):
        deadline = time.monotonic() + START_TIMEOUT_S
        seen = 0
        def extra_missing():
            have = dict(self.echo_addrs, stamp=self.stamp_addrs)
            return any(len(have[k]) < n for k, n in self._want_extra.items())
        while (len(self.tcp_addrs) < want_tcp or len(self.udp_addrs) < want_udp
               or extra_missing()):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("server did not print its listening lines "
                                     "within %.0f s; %s" % (START_TIMEOUT_S,
                                                            self.describe()))
            with self.cond:
                if seen >= len(self.out):
                    self.cond.wait(left)
                new = self.out[seen:]
                seen = len(self.out)
            for line in new:
                if line is None:
                    raise AssertionError("server exited before listening "
                                         "(exit %r); %s" % (self.proc.poll(),
                                                            self.describe()))
                got = self._parse_listening(line)
                if got is None:
                    continue
                proto, host, port = got
                if proto == "stamp":
                    self.stamp_addrs.append((host, port))
                    self.stamp_port = self.stamp_port or port
                elif proto in self.echo_addrs:
                    self.echo_addrs[proto].append((host, port))
                    if proto == "echo-tcp":
                        self.echo_port = self.echo_port or port
                elif proto == "tcp":
                    self.tcp_addrs.append((host, port))
                    self.tcp_port = self.tcp_port or port
                else:
                    self.udp_addrs.append((host, port))
                    self.udp_port = self.udp_port or port

    # -- lifetime

    def alive(self):
        return self.proc.poll() is None

    def send_signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait_exit(self, timeout=STOP_TIMEOUT_S):
        """Exit code, or None if still running after timeout."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM):
        """SIGTERM (or sig), bounded wait, then SIGKILL.  Returns the exit
        code of the graceful stop, or None when SIGKILL was needed."""
        if self.returncode is not None or self not in _live:
            return self.returncode
        code = None
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
            code = self.wait_exit(STOP_TIMEOUT_S)
            if code is None:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT_S)
        finally:
            if self in _live:
                _live.remove(self)
            for t in self.threads:
                t.join(2.0)
            for f in (self.proc.stdout, self.proc.stderr):
                try:
                    f.close()
                except OSError:
                    pass
        self.returncode = code
        return code


@atexit.register
def _kill_leftovers():
    for srv in list(_live):
        try:
            srv.proc.kill()
            srv.proc.wait(2)
        except Exception:
            pass


def run_cli(*args, timeout=10):
    """Runs `tsecho ARGS` to completion: (exit code, stdout, stderr)."""
    try:
        p = subprocess.run([require_binary()] + list(args),
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("tsecho %s did not exit within %d s (stdout %r)"
                             % (" ".join(args), timeout, e.stdout))
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


# ---------------------------------------------------------------- clients
# Helpers for `tsecho ping` and `tsecho client` (docs/ping.md) and the peers
# they are run against.

class Result:
    """A finished command: code, out/err (text), out_b/err_b (bytes),
    elapsed (seconds, monotonic)."""

    def __init__(self, argv, code, out_b, err_b, elapsed):
        self.argv, self.code, self.elapsed = argv, code, elapsed
        self.out_b, self.err_b = out_b, err_b
        self.out = out_b.decode("utf-8", "replace")
        self.err = err_b.decode("utf-8", "replace")

    def err_lines(self):
        return [l for l in self.err.splitlines() if l.strip()]

    def describe(self):
        return ("`%s`: exit %r after %.2f s\nstdout: %r\nstderr: %r"
                % (" ".join(self.argv[1:]), self.code, self.elapsed,
                   self.out[-3000:], self.err[-1000:]))


def run_tsecho(*args, input=None, timeout=10, env=None, preexec_fn=None):
    """Runs `tsecho ARGS` to completion (stdin: the bytes input, or
    /dev/null; preexec_fn runs in the child first, to set limits) and
    returns a Result; AssertionError when it is still running after timeout
    seconds (it is killed)."""
    argv = [require_binary()] + list(args)
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, input=input,
                           stdin=subprocess.DEVNULL if input is None else None,
                           capture_output=True, timeout=timeout, env=env,
                           preexec_fn=preexec_fn)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("tsecho %s did not exit within %s s (stdout %r, "
                             "stderr %r)" % (" ".join(args), timeout,
                                             (e.stdout or b"")[-2000:],
                                             (e.stderr or b"")[-500:]))
    return Result(argv, p.returncode, p.stdout, p.stderr,
                  time.monotonic() - t0)


class Process:
    """Any command running in the background, its stdout and stderr read
    line by line; stopped like a Server (and with the servers by the runner
    after each test).  Use as a context manager."""

    def __init__(self, argv, stdin=subprocess.DEVNULL, env=None, cwd=None):
        self.args = list(argv)
        self.proc = subprocess.Popen(self.args, stdin=stdin,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, cwd=cwd)
        _live.append(self)
        self.pid = self.proc.pid
        self.cond = threading.Condition()
        self.out, self.err = [], []
        self.threads = [
            threading.Thread(target=_pipe_reader, daemon=True,
                             args=(self.proc.stdout, self.out, self.cond)),
            threading.Thread(target=_pipe_reader, daemon=True,
                             args=(self.proc.stderr, self.err, self.cond)),
        ]
        for t in self.threads:
            t.start()
        self.returncode = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop(signal.SIGKILL)
        return False

    lines = Server.lines
    stderr_lines = Server.stderr_lines
    _describe_locked = Server._describe_locked

    def wait_line(self, pred, timeout=IO_TIMEOUT_S, start=0, what="line"):
        """First stdout line (index >= start) for which pred(line) is true."""
        try:
            return Server.wait_line(self, pred, timeout, start, what)
        except AssertionError as e:
            raise AssertionError("`%s`: %s" % (" ".join(self.args[1:]),
                                               str(e).replace("server stdout",
                                                              "stdout")))
    alive = Server.alive
    send_signal = Server.send_signal

    def describe(self):
        return ("`%s`: exit %r\nstdout: %r\nstderr: %r"
                % (" ".join(self.args), self.proc.poll(), self.lines()[-30:],
                   self.stderr_lines()[-10:]))

    def wait_exit(self, timeout=STOP_TIMEOUT_S):
        """Exit code once it has exited and its output is all read, or None
        if it is still running after timeout."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        for t in self.threads:
            t.join(2.0)
        return code

    # Server's stop, whose bounded wait is this class's wait_exit (which
    # also drains the output readers).
    stop = Server.stop


def free_port(kind=socket.SOCK_STREAM, host="127.0.0.1"):
    """A port that was free a moment ago (bound to port 0, then closed)."""
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, kind)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def seed_path(name):
    """Path of the tutorial's server.py or client.py (the seed tsecho grew
    from), or SkipTest when it is absent.  They are looked for in
    $TSECHO_SEED_DIR, else in shared/seed/ beside the repository."""
    where = os.environ.get("TSECHO_SEED_DIR") or \
        os.path.join(REPO, "..", "shared", "seed")
    path = os.path.abspath(os.path.join(where, name))
    if not os.path.exists(path):
        raise SkipTest("the seed's %s not found at %s (set TSECHO_SEED_DIR)"
                       % (name, path))
    return path


class SeedServer(Process):
    """The seed's server.py on a free port (it binds 0.0.0.0:PORT), once it
    accepts connections.  Its log (python3 -u) is in lines()."""

    def __init__(self):
        path = seed_path("server.py")
        last = None
        for _ in range(3):           # the free port may be taken in between
            self.port = free_port()
            Process.__init__(self, ["python3", "-u", path, str(self.port)])
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline and self.alive():
                try:
                    socket.create_connection(("127.0.0.1", self.port),
                                             timeout=1.0).close()
                    return
                except OSError as e:
                    last = e
                    time.sleep(0.05)
            last = "%s; %s" % (last, self.describe())
            self.stop(signal.SIGKILL)
        raise AssertionError("the seed server did not start: %s" % last)

    def check_serves(self):
        """Asserts the seed server is alive, answers a message on a new
        connection and printed no traceback."""
        assert self.alive(), "the seed server died: %s" % self.describe()
        msg = b"still there?"
        with tcp_connect("127.0.0.1", self.port) as s:
            s.sendall(msg)
            buf = recv_until(s, lambda b: b.endswith(b":" + msg) or
                             len(b) > len(msg) + 40, what="the seed's answer")
        assert re.fullmatch(rb"\d+\.\d+:" + re.escape(msg), buf), \
            "the seed answered %r; %s" % (buf, self.describe())
        bad = [l for l in self.stderr_lines() if "Traceback" in l or "Error" in l]
        assert not bad, "the seed server printed %r; %s" % (bad, self.describe())


class _PeerThread:
    """A socket peer served by a thread; stop() (or leaving the with block)
    ends the thread and closes its sockets."""

    def __init__(self):
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.socks = []
        self.thread = threading.Thread(target=self._run_guarded, daemon=True)

    def _start(self):
        self.thread.start()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        return False

    def _run_guarded(self):
        try:
            self.run()
        except OSError:
            if not self.stopping.is_set():
                raise

    def _ready(self, sock, timeout=0.1):
        """True when sock is readable within timeout (and not stopping)."""
        import select
        if self.stopping.is_set():
            return False
        try:
            r, _, _ = select.select([sock], [], [], timeout)
        except (OSError, ValueError):
            return False
        return bool(r) and not self.stopping.is_set()

    def stop(self):
        self.stopping.set()
        if self.thread.ident is not None:       # 'noaccept' never starts it
            self.thread.join(3.0)
        with self.lock:
            for s in self.socks:
                try:
                    s.close()
                except OSError:
                    pass


class TcpPeer(_PeerThread):
    """A TCP listener on 127.0.0.1:0 (attribute port) that behaves as mode
    says:

    'noaccept'  listens and never accepts (the kernel still completes the
                handshake while the backlog has room)
    'close'     accepts and closes each connection at once
    'mute'      accepts and reads everything, never answers
    'echo'      accepts and sends back every byte it reads (RFC 862)
    """

    def __init__(self, mode, backlog=64):
        _PeerThread.__init__(self)
        assert mode in ("noaccept", "close", "mute", "echo"), mode
        self.mode = mode
        self.accepted = 0
        self.bytes_in = 0
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(backlog)
        self.port = self.lsock.getsockname()[1]
        self.socks.append(self.lsock)
        if mode != "noaccept":
            self._start()

    def run(self):
        import select
        conns = []
        while not self.stopping.is_set():
            try:
                r, _, _ = select.select([self.lsock] + conns, [], [], 0.1)
            except (OSError, ValueError):
                return
            for s in r:
                if s is self.lsock:
                    c, _ = self.lsock.accept()
                    self.accepted += 1
                    if self.mode == "close":
                        c.close()
                        continue
                    c.settimeout(IO_TIMEOUT_S)
                    with self.lock:
                        self.socks.append(c)
                    conns.append(c)
                    continue
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    conns.remove(s)
                    s.close()
                    continue
                self.bytes_in += len(data)
                if self.mode == "echo":
                    try:
                        s.sendall(data)
                    except OSError:
                        conns.remove(s)
                        s.close()


class UdpPeer(_PeerThread):
    """A UDP socket on 127.0.0.1:0 (attribute port).  mode 'drop' reads and
    drops every datagram (no ICMP port unreachable either); 'echo' sends each
    one back (RFC 862).  Counts datagrams in `datagrams`."""

    def __init__(self, mode):
        _PeerThread.__init__(self)
        assert mode in ("drop", "echo"), mode
        self.mode = mode
        self.datagrams = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.socks.append(self.sock)
        self._start()

    def run(self):
        while not self.stopping.is_set():
            if not self._ready(self.sock):
                continue
            data, addr = self.sock.recvfrom(70000)
            self.datagrams += 1
            if self.mode == "echo":
                self.sock.sendto(data, addr)


class UdpReflector(_PeerThread):
    """A tsecho server over UDP (docs/protocol.md, section 2) that misbehaves
    on purpose, by the 1-based index k of each probe it receives:

    - drops probe k when k % drop_every == 0;
    - else holds the reply back when k % hold_every == 0, and sends it right
      after the next reply it sends (and that one's copy, if any);
    - else sends the reply twice, back to back, when k % dup_every == 0.

    Records what it did: probes (list of seq, in arrival order) and sent (the
    index k of every reply datagram, in sending order)."""

    def __init__(self, drop_every=4, dup_every=5, hold_every=7):
        _PeerThread.__init__(self)
        self.drop_every, self.dup_every = drop_every, dup_every
        self.hold_every = hold_every
        self.probes, self.sent, self.ignored = [], [], 0
        self.arrivals = []  # time.monotonic() of each probe, under lock
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.socks.append(self.sock)
        self._start()

    def run(self):
        held = None                     # (k, reply, addr)
        while not self.stopping.is_set():
            if not self._ready(self.sock):
                continue
            data, addr = self.sock.recvfrom(70000)
            arrival = time.monotonic()
            t2 = time.time_ns()
            if (len(data) < HDR_LEN or data[:4] != MAGIC or data[4] != 1
                    or data[5] != TYPE_PROBE):
                self.ignored += 1
                continue
            f = parse_frame(data)
            with self.lock:
                self.arrivals.append(arrival)
            self.probes.append(f["seq"])
            k = len(self.probes)
            if k % self.drop_every == 0:
                continue
            reply = (data[:5] + bytes([TYPE_REPLY]) + data[6:32]
                     + struct.pack(">QQ", t2, time.time_ns()) + data[48:])
            if k % self.hold_every == 0:
                assert held is None, "two replies held at once"
                held = (k, reply, addr)
                continue
            copies = 2 if k % self.dup_every == 0 else 1
            for _ in range(copies):
                self.sock.sendto(reply, addr)
                self.sent.append(k)
            if held is not None:
                self.sock.sendto(held[1], held[2])
                self.sent.append(held[0])
                held = None

    def expected(self):
        """The packet counts a client should report for what was done:
        dict of received, lost, duplicates, reordered (a reply is reordered
        when a reply to a later probe came before it; a copy of a reply
        already received is a duplicate, not also reordered)."""
        seen, highest, dups, reordered = set(), 0, 0, 0
        for k in self.sent:
            if k in seen:
                dups += 1
                continue
            if k < highest:
                reordered += 1
            seen.add(k)
            highest = max(highest, k)
        return dict(received=len(seen), lost=len(self.probes) - len(seen),
                    duplicates=dups, reordered=reordered)


def faketime_env(offset):
    """Environment that runs a program under libfaketime (Debian package
    faketime) with its clocks moved by offset (e.g. "+50s"), or SkipTest.

    The library is preloaded directly rather than through the faketime
    command, which does not pass SIGTERM on to its child."""
    import glob
    import shutil
    libs = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1") +
                  glob.glob("/usr/lib/faketime/libfaketime.so.1") +
                  glob.glob("/usr/local/lib/faketime/libfaketime.so.1"))
    if not libs or not shutil.which("faketime"):
        raise SkipTest("faketime is not installed (apt-get install faketime)")
    env = dict(os.environ)
    env["LD_PRELOAD"] = ":".join(filter(None, [libs[0], env.get("LD_PRELOAD")]))
    env["FAKETIME"] = offset
    # An ASan build wants its runtime first in the library list.
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"),
                                                 "verify_asan_link_order=0"]))
    return env


# ---------------------------------------------------------------- STAMP
# RFC 8762 unauthenticated packets (/work/shared/reference/stamp-rfc8762.md,
# src/lib/stamp.h): big-endian, NTP timestamps unless the Z bit says PTP.

STAMP_BASE_LEN = 44
NTP_UNIX_OFFSET_S = 2208988800          # 1900-01-01 to 1970-01-01
EE_S, EE_Z = 0x8000, 0x4000


def ntp_from_unix_ns(unix_ns):
    sec, ns = divmod(unix_ns, 10**9)
    return (((sec + NTP_UNIX_OFFSET_S) & 0xffffffff) << 32) | ((ns << 32) // 10**9)


def ntp_to_unix_ns(ntp):
    sec, frac = ntp >> 32, ntp & 0xffffffff
    return (sec - NTP_UNIX_OFFSET_S) * 10**9 + (frac * 10**9 + (1 << 31) >> 32)


def stamp_sender_packet(seq, t1_ntp=None, ee=0x0001, ssid=0, size=STAMP_BASE_LEN,
                        tail=b""):
    """A Session-Sender packet (RFC 8762 4.2.1, RFC 8972 SSID): the 44-octet
    base packet, then tail, then zeros up to size (size may be below 44: the
    packet is then cut there, for TWAMP-Light and truncation tests)."""
    if t1_ntp is None:
        t1_ntp = ntp_from_unix_ns(time.time_ns())
    base = struct.pack(">IQHH", seq, t1_ntp, ee, ssid) + b"\0" * 28
    pkt = base + tail
    return (pkt + b"\0" * max(0, size - len(pkt)))[:max(size, 0)]


_STAMP_REFL = struct.Struct(">IQHHQIQHHB3s")   # 44 octets, offsets 0..43


def parse_stamp_reflector(buf):
    """The fields of a Session-Reflector packet (RFC 8762 4.3.1) at their
    offsets; AssertionError when shorter than 44 octets."""
    assert len(buf) >= STAMP_BASE_LEN, "reflector packet of %d octets: %r" % (
        len(buf), buf)
    (seq, t3, ee, ssid, t2, s_seq, t1, s_ee, mbz38, ttl,
     mbz41) = _STAMP_REFL.unpack_from(buf)
    return dict(seq=seq, t3=t3, ee=ee, ssid=ssid, t2=t2, sender_seq=s_seq,
                sender_t1=t1, sender_ee=s_ee, mbz38=mbz38, ttl=ttl,
                mbz41=mbz41, rest=buf[STAMP_BASE_LEN:], raw=buf)


class StampPeer(_PeerThread):
    """A STAMP or TWAMP-Light Session-Reflector in Python, on UDP
    host:0 (attribute port), answering sender packets of 44 octets or more.

    kind 'stamp': RFC 8762 4.3.1, SSID copied, octets from 44 copied.
    kind 'twamp': RFC 5357 4.2.1 / Appendix I as a minimal TWAMP-Light
        reflector: octets 14-15 zero, TTL 255 (not fetched), Packet Padding
        from octet 41 = the sender's padding (its octets from 14) truncated
        to keep the size.
    stateful: the reflector's own sequence number, per source, from 0;
        else a copy of the sender's.
    By the 1-based arrival index k (over all sources): k in drop drops the
    packet before it is counted (forward loss); k in mute counts it and
    sends nothing (backward loss).  Records every received datagram in
    `received`."""

    def __init__(self, kind="stamp", stateful=False, drop=(), mute=(),
                 host="127.0.0.1"):
        _PeerThread.__init__(self)
        assert kind in ("stamp", "twamp"), kind
        self.kind, self.stateful = kind, stateful
        self.drop, self.mute = set(drop), set(mute)
        self.received, self.replies = [], 0
        self.counters = {}
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.socks.append(self.sock)
        self._start()

    def run(self):
        while not self.stopping.is_set():
            if not self._ready(self.sock):
                continue
            data, addr = self.sock.recvfrom(70000)
            t2 = ntp_from_unix_ns(time.time_ns())
            with self.lock:
                self.received.append(data)
                k = len(self.received)
            if len(data) < STAMP_BASE_LEN or k in self.drop:
                continue
            s_seq, t1, s_ee, ssid = struct.unpack_from(">IQHH", data)
            seq = s_seq
            if self.stateful:
                seq = self.counters.get(addr, 0)
                self.counters[addr] = seq + 1
            if k in self.mute:
                continue
            if self.kind == "stamp":
                rest = data[STAMP_BASE_LEN:]
                ttl, out_ssid, pad41 = 255, ssid, b"\0\0\0"
            else:
                padding = data[14:14 + len(data) - 41]
                pad41, rest = padding[:3], padding[3:]
                ttl, out_ssid = 255, 0
            t3 = ntp_from_unix_ns(time.time_ns())
            reply = (struct.pack(">IQHHQIQHHB", seq, t3, 0x0001, out_ssid, t2,
                                 s_seq, t1, s_ee, 0, ttl) + pad41 + rest)
            assert len(reply) == len(data), (len(reply), len(data))
            self.sock.sendto(reply, addr)
            self.replies += 1


class TempDir:
    """A scratch directory (attribute path), removed on exit."""

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="tsecho-test-")
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)
        return False

    def file(self, name):
        """The path of name inside the directory."""
        return os.path.join(self.path, name)
