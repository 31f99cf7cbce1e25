"""A strict reader of the Prometheus text exposition format 0.0.4
(prometheus.io/docs/instrumenting/exposition_formats), for tests.

Page(text) parses a whole /metrics body and checks what a scraper relies
on: each sample belongs to a family declared by a TYPE line before it, a
family's lines are contiguous, no series appears twice, counters are
finite and not negative, and every histogram series has cumulative
buckets ending at le="+Inf" with _count equal to that bucket.  Anything
else raises AssertionError naming the line.

Python 3 standard library only.
"""

import math
import re

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE_RE = re.compile(r"^(%s)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+(-?\d+))?$" % _NAME)
_HELP_RE = re.compile(r"^#[ \t]+HELP[ \t]+(%s)(?:[ \t]+(.*))?$" % _NAME)
_TYPE_RE = re.compile(r"^#[ \t]+TYPE[ \t]+(%s)[ \t]+(\S+)$" % _NAME)
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"),
             "summary": ("_sum", "_count", "")}


def _labels(text, where):
    """The label set of a sample as a dict; AssertionError when malformed
    or when a name repeats."""
    out, pos = {}, 0
    while pos < len(text):
        m = _LABEL_RE.match(text, pos)
        assert m, "%s: bad label syntax at %r" % (where, text[pos:])
        name = m.group(1)
        assert name not in out, "%s: label %s twice" % (where, name)
        out[name] = re.sub(r'\\[\\"n]', lambda e: _ESCAPES[e.group(0)], m.group(2))
        pos = m.end()
        if m.group(3) == "" and pos < len(text):
            raise AssertionError("%s: text after the labels: %r" % (where, text[pos:]))
    return out


def _value(text, where):
    """A sample value: a Go float, or NaN, +Inf, -Inf."""
    if text in ("NaN", "+Inf", "-Inf", "Inf"):
        return float(text)
    assert re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text), \
        "%s: bad value %r" % (where, text)
    return float(text)


class Family:
    def __init__(self, name, type_, help_):
        self.name, self.type, self.help = name, type_, help_
        self.samples = []        # (sample name, labels dict, value)


class Page:
    """families: name -> Family, in page order; samples: every
    (sample name, labels, value) in page order."""

    def __init__(self, text):
        assert isinstance(text, str), type(text)
        assert text == "" or text.endswith("\n"), "page does not end with a newline"
        self.text = text
        self.families = {}
        self.samples = []
        self._parse()
        for fam in self.families.values():
            if fam.type == "histogram":
                self._check_histogram(fam)

    def _family_of(self, sample_name, current):
        """The family a sample of this name belongs to: the current one
        (families are contiguous), allowing the type's suffixes."""
        if current is None:
            return None
        for suffix in _SUFFIXES.get(current.type, ("",)):
            if sample_name == current.name + suffix:
                return current
        return None

    def _parse(self):
        current, seen_series, helps = None, set(), {}
        for no, line in enumerate(self.text.split("\n")[:-1], 1):
            where = "line %d %r" % (no, line[:120])
            if not line.strip():
                continue
            if line.startswith("#"):
                m = _HELP_RE.match(line)
                if m:
                    assert m.group(1) not in helps, "%s: second HELP" % where
                    helps[m.group(1)] = m.group(2) or ""
                    continue
                m = _TYPE_RE.match(line)
                if m:
                    name, type_ = m.groups()
                    assert type_ in TYPES, "%s: unknown type" % where
                    assert name not in self.families, \
                        "%s: family %s declared twice (or not contiguous)" % (where, name)
                    current = self.families[name] = Family(name, type_, helps.get(name))
                    continue
                continue                        # any other comment
            m = _SAMPLE_RE.match(line)
            assert m, "%s: not a sample" % where
            name, label_text, value_text = m.group(1), m.group(2) or "", m.group(3)
            fam = self._family_of(name, current)
            assert fam is not None, \
                "%s: sample outside its family's TYPE block (current family %s)" % (
                    where, current and current.name)
            labels = _labels(label_text, where)
            value = _value(value_text, where)
            key = (name, tuple(sorted(labels.items())))
            assert key not in seen_series, "%s: series repeated" % where
            seen_series.add(key)
            if fam.type == "counter" or (fam.type in ("histogram", "summary")
                                         and name.endswith(("_count", "_bucket"))):
                assert math.isfinite(value) and value >= 0, \
                    "%s: a counter must be finite and >= 0" % where
            fam.samples.append((name, labels, value))
            self.samples.append((name, labels, value))
        for name in helps:
            assert name in self.families, "HELP for %s without a TYPE" % name

    def _check_histogram(self, fam):
        for labels in self._histogram_series(fam):
            self.histogram(fam.name, **labels)

    @staticmethod
    def _histogram_series(fam):
        out = []
        for name, labels, _ in fam.samples:
            if name == fam.name + "_count" and labels not in out:
                out.append(labels)
        return out

    # -- lookups

    def series(self, name):
        """[(labels, value)] of every sample named name, in page order."""
        return [(l, v) for n, l, v in self.samples if n == name]

    def find(self, name, **labels):
        """The samples named name whose labels include labels."""
        return [(l, v) for l, v in self.series(name)
                if all(l.get(k) == str(x) for k, x in labels.items())]

    def get(self, name, **labels):
        """The value of the one matching sample, or None when there is none;
        AssertionError when several match."""
        got = self.find(name, **labels)
        assert len(got) <= 1, "%d samples of %s match %r: %r" % (
            len(got), name, labels, got)
        return got[0][1] if got else None

    def value(self, name, **labels):
        """Like get, but the sample must be there."""
        v = self.get(name, **labels)
        assert v is not None, "no sample %s%r on the page:\n%s" % (
            name, labels, self.text[:3000])
        return v

    def histogram(self, name, **labels):
        """dict(buckets=[(le, count)], sum, count) of the histogram series
        with exactly these labels (besides le), after checking it."""
        what = "%s%r" % (name, labels)
        buckets = []
        for l, v in self.series(name + "_bucket"):
            rest = {k: x for k, x in l.items() if k != "le"}
            if rest == {k: str(x) for k, x in labels.items()}:
                assert "le" in l, "%s: bucket without le" % what
                buckets.append((_value(l["le"], what + " le"), v))
        count = self.value(name + "_count", **labels)
        total = self.value(name + "_sum", **labels)
        assert buckets, "%s: no buckets" % what
        les = [le for le, _ in buckets]
        assert les == sorted(les) and len(set(les)) == len(les), \
            "%s: le not increasing: %r" % (what, les)
        assert les[-1] == math.inf, "%s: last bucket le=%r, want +Inf" % (what, les[-1])
        counts = [c for _, c in buckets]
        assert all(a <= b for a, b in zip(counts, counts[1:])), \
            "%s: buckets not cumulative: %r" % (what, buckets)
        assert counts[-1] == count, "%s: +Inf bucket %r != _count %r" % (
            what, counts[-1], count)
        assert math.isfinite(total), "%s: _sum %r" % (what, total)
        return dict(buckets=buckets, sum=total, count=count)
