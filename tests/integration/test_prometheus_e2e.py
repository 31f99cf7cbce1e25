"""End to end: a real Prometheus server on loopback scrapes `tsecho probe`
and `tsecho server --metrics`, while that probe probes that server.

Prometheus (Debian package prometheus) runs with its own port, its own
temporary storage and a generated configuration of two jobs scraped every
second; the test asks its HTTP API (/api/v1/query, /api/v1/targets) until
the numbers are there.  Without Prometheus the test is skipped, or fails
when TSECHO_REQUIRE_TOOLS=1 (as in CI).
"""

import json
import os
import re
import signal
import tempfile
import time
import urllib.parse

from harness import Process, Server, free_port, http_get, require_tool
from test_probe import FAST, LO, Probe, label

PROM_START_S = 30.0     # until /-/ready
PROM_WAIT_S = 30.0      # until a query has its answer
METRICS_RE = re.compile(r"^listening on metrics (.+):(\d+)$")

CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: tsecho_probe
    static_configs:
      - targets: ['%s']
  - job_name: tsecho_server
    static_configs:
      - targets: ['%s']
"""


class Prometheus(Process):
    """Prometheus on 127.0.0.1 (attribute port) with config_text, its data
    in dir; started once /-/ready answers 200."""

    def __init__(self, binary, config_text, dir):
        config = os.path.join(dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write(config_text)
        last = None
        for _ in range(3):              # the free port may be taken meanwhile
            self.port = free_port()
            Process.__init__(self, [
                binary, "--config.file=" + config,
                "--storage.tsdb.path=" + os.path.join(dir, "data"),
                "--web.listen-address=%s:%d" % (LO, self.port),
                "--log.level=info"])
            deadline = time.monotonic() + PROM_START_S
            while self.alive() and time.monotonic() < deadline:
                status, body = http_get(self.port, "/-/ready", timeout=2.0)
                if status == 200:
                    return
                last = "%s %s" % (status, body.strip()[:200])
                time.sleep(0.2)
            last = "/-/ready: %s; %s" % (last, self.describe())
            self.stop(signal.SIGKILL)
        raise AssertionError("prometheus did not become ready: %s" % last)

    def __exit__(self, exc_type, exc, tb):
        self.stop(signal.SIGTERM)       # SIGKILL after 5 s
        return False

    def describe(self):
        # Its log is on stderr: the last lines say why it failed.
        return "prometheus exit %r; log: %s" % (
            self.proc.poll(), "\n".join(self.stderr_lines()[-15:]))

    def api(self, path, **params):
        """The data of a successful API answer."""
        q = "?" + urllib.parse.urlencode(params) if params else ""
        status, body = http_get(self.port, "/api/v1/" + path + q)
        assert status == 200, "GET /api/v1/%s%s: %s %s" % (path, q, status,
                                                           body[:500])
        doc = json.loads(body)
        assert doc.get("status") == "success", doc
        return doc["data"]

    def query(self, expr):
        """[(labels, float value)] of an instant query."""
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", data
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def wait_query(self, expr, pred, what, timeout=PROM_WAIT_S):
        """The first answer to expr with a series whose value satisfies
        pred; AssertionError after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.alive(), "prometheus died; %s" % self.describe()
            got = self.query(expr)
            if any(pred(v) for _, v in got):
                return got
            if time.monotonic() > deadline:
                raise AssertionError("%s: query %r answered %r after %.0f s; "
                                     "targets %r" % (what, expr, got, timeout,
                                                     self.target_health()))
            time.sleep(0.25)

    def target_health(self):
        return [(t["labels"].get("job"), t["scrapeUrl"], t["health"],
                 t.get("lastError"))
                for t in self.api("targets")["activeTargets"]]


def test_prometheus_scrapes_probe_and_server():
    binary = require_tool("prometheus", "prometheus",
                          paths=("/usr/bin/prometheus",))
    with Server("--metrics", "%s:0" % LO) as srv:
        line = srv.wait_line(lambda l: METRICS_RE.match(l) is not None,
                             what="'listening on metrics'")
        srv_metrics = int(METRICS_RE.match(line).group(2))
        t = label(LO, srv.tcp_port)
        with Probe(*FAST, t, "udp://" + label(LO, srv.udp_port)) as pr, \
                tempfile.TemporaryDirectory() as d:
            config = CONFIG % (label(LO, pr.metrics_port),
                               label(LO, srv_metrics))
            with Prometheus(binary, config, d) as prom:
                want = '{job="tsecho_probe",target="%s",mode="tcp"}' % t
                prom.wait_query("tsecho_probe_up" + want, lambda v: v == 1,
                                "the tcp target up")
                prom.wait_query("tsecho_probe_up" + want.replace("tcp", "udp"),
                                lambda v: v == 1, "the udp target up")
                prom.wait_query("tsecho_probe_rtt_seconds_count" + want,
                                lambda v: v > 0, "RTTs counted")
                got = prom.query("tsecho_probe_lost_total" + want)
                assert got and got[0][1] == 0, "lost: %r" % got
                # The server's counters move: it answers the probe.
                prom.wait_query('sum(tsecho_server_messages_total'
                                '{job="tsecho_server"})',
                                lambda v: v > 0, "the server's messages")
                for job in ("tsecho_probe", "tsecho_server"):
                    prom.wait_query('up{job="%s"}' % job, lambda v: v == 1,
                                    "job %s up" % job)
                health = prom.target_health()
                jobs = sorted(h[0] for h in health)
                assert jobs == ["tsecho_probe", "tsecho_server"], health
                for job, url, state, err in health:
                    assert state == "up" and not err, \
                        "job %s (%s): health %r, last error %r" % (
                            job, url, state, err)
                # Two scrapes a second apart: rate() sees the probes go on.
                prom.wait_query('rate(tsecho_probe_sent_total%s[10s])' % want,
                                lambda v: v > 0, "a rate of probes")
                assert not [l for l in prom.stderr_lines()
                            if "level=error" in l], prom.describe()
