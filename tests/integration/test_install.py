"""make install, and the man page it installs: that it is where it belongs,
that it is clean mdoc, and that it cannot silently fall behind --help.

The option checks read the options from the binary under test, so an option
added to a command's --help fails here until man/tsecho.1 documents it, in
that command's SYNOPSIS and in its subsection (".Ss tsecho COMMAND").

mandoc and groff are optional on a developer's machine (those checks SKIP);
with TSECHO_REQUIRE_TOOLS=1 (CI) a missing tool is a failure.
"""

import os
import re
import shutil
import stat
import subprocess
import tempfile

import harness

MAN_PAGE = os.path.join(harness.REPO, "man", "tsecho.1")
RUN_TIMEOUT_S = 30


def _run(argv, **kw):
    """(exit code, stdout + stderr as text) of argv, bounded in time."""
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=RUN_TIMEOUT_S, **kw)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def _help(*cmd):
    rc, out = _run([harness.require_binary()] + list(cmd) + ["--help"])
    assert rc == 0, "tsecho %s --help exited %d: %s" % (" ".join(cmd), rc, out)
    assert out.strip(), "tsecho %s --help printed nothing" % " ".join(cmd)
    return out


def _commands():
    """The commands `tsecho --help` lists under "commands:"."""
    out = _help()
    m = re.search(r"^commands:\n((?:  \S.*\n)+)", out, re.M)
    assert m, "no 'commands:' block in tsecho --help:\n%s" % out
    cmds = re.findall(r"^  ([a-z][a-z0-9-]*)\s", m.group(1), re.M)
    assert len(cmds) >= 5, "too few commands parsed from --help: %r" % cmds
    return cmds


def _long_options(help_text):
    """Every --long option a help text names, without "=ARG" or "[=ARG]"."""
    return sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", help_text)))


def _short_aliases(help_text):
    """{"--count": "-c", ...} from help lines such as "-c, --count N"."""
    return {"--" + long_: "-" + short for short, long_ in
            re.findall(r"(?<![\w-])-([A-Za-z0-9]), --([a-z][a-z0-9-]*)", help_text)}


def _man_flags(src):
    """The flags mdoc source writes with Fl, as they render: "Fl \\-listen"
    gives "--listen", "Fl c" gives "-c", and "Fl 46q" each of -4, -6, -q."""
    src = src.replace("\\-", "-")
    flags = set()
    for f in re.findall(r"\bFl\s+(-?[A-Za-z0-9][\w-]*)", src):
        flags.add("-" + f)
        if not f.startswith("-"):
            flags.update("-" + c for c in f)
    return flags


def _man_sections():
    """(synopsis per command, subsection per command) of man/tsecho.1, as
    dicts of command name to the mdoc source of that part."""
    with open(MAN_PAGE, encoding="utf-8") as f:
        src = f.read()
    m = re.search(r"^\.Sh SYNOPSIS\n(.*?)^\.Sh ", src, re.M | re.S)
    assert m, "man/tsecho.1 has no SYNOPSIS section"
    synopsis = {}
    # One synopsis block per ".Nm" line; its command is the first ".Cm".
    # A command may have several (probe: TARGET... or --targets FILE).
    for block in re.split(r"^\.Nm\s*$", m.group(1), flags=re.M):
        c = re.match(r"\s*\.Cm (\S+)", block)
        if c:
            synopsis[c.group(1)] = synopsis.get(c.group(1), "") + block
    subsections = {}
    for s in re.finditer(r"^\.Ss tsecho (\S+)\n(.*?)(?=^\.S[sh] )", src,
                         re.M | re.S):
        subsections[s.group(1)] = s.group(2)
    return synopsis, subsections


def _install(destdir):
    """Runs the real install rule of the build tree under test
    ($TSECHO_BUILDDIR, which make check sets; else the repository) into
    DESTDIR=destdir/root with prefix /usr, and returns that /usr.  The
    tree is the one that built $TSECHO, so under make asan or a poll build
    the binary installed is the binary under test, and nothing is rebuilt."""
    builddir = os.environ.get("TSECHO_BUILDDIR") or harness.REPO
    if not os.path.isfile(os.path.join(builddir, "Makefile")):
        raise harness.SkipTest("no configured build tree at %s (run ./configure, "
                               "or set TSECHO_BUILDDIR)" % builddir)
    root = os.path.join(destdir, "root")
    # A make of our own, not a job of the make check that runs this test.
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    rc, out = _run([os.environ.get("MAKE", "make"), "-C", builddir, "install",
                    "DESTDIR=" + root, "prefix=/usr"], env=env)
    assert rc == 0, "make install exited %d:\n%s" % (rc, out)
    return os.path.join(root, "usr")


def test_install_puts_binary_and_man_page():
    tmp = tempfile.mkdtemp(prefix="tsecho-install-")
    try:
        usr = _install(tmp)
        binary = os.path.join(usr, "bin", "tsecho")
        page = os.path.join(usr, "share", "man", "man1", "tsecho.1")
        assert os.path.isfile(binary) and os.access(binary, os.X_OK), \
            "no executable %s" % binary
        rc, out = _run([binary, "--version"])
        assert rc == 0 and out.startswith("tsecho "), \
            "installed tsecho --version: exit %d, %r" % (rc, out)
        assert os.path.isfile(page), "no man page at %s" % page
        mode = stat.S_IMODE(os.stat(page).st_mode)
        assert mode == 0o644, "man page mode %o, want 644" % mode
        with open(page, "rb") as a, open(MAN_PAGE, "rb") as b:
            assert a.read() == b.read(), "installed man page differs from man/tsecho.1"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_man_synopsis_names_every_command():
    synopsis, subsections = _man_sections()
    problems = []
    for cmd in _commands():
        if cmd not in synopsis:
            problems.append("tsecho %s: not in the SYNOPSIS" % cmd)
        if cmd not in subsections:
            problems.append("tsecho %s: no '.Ss tsecho %s' subsection" % (cmd, cmd))
    assert not problems, "man/tsecho.1 is behind --help:\n  " + \
        "\n  ".join(problems)


def test_man_page_documents_every_long_option():
    synopsis, subsections = _man_sections()
    with open(MAN_PAGE, encoding="utf-8") as f:
        whole = _man_flags(f.read())
    problems = []
    for opt in _long_options(_help()):
        if opt not in whole:
            problems.append("tsecho %s: not in the man page" % opt)
    for cmd in _commands():
        in_syn = _man_flags(synopsis.get(cmd, ""))
        in_ss = _man_flags(subsections.get(cmd, ""))
        text = _help(cmd)
        short = _short_aliases(text)
        for opt in _long_options(text):
            if opt not in in_ss:
                problems.append("tsecho %s %s: not in its subsection" % (cmd, opt))
            # The SYNOPSIS may give the short form instead; -h/--help is
            # left out of it, as DESCRIPTION says every command has one.
            if opt != "--help" and opt not in in_syn \
                    and short.get(opt) not in in_syn:
                problems.append("tsecho %s %s: not in its SYNOPSIS" % (cmd, opt))
    assert not problems, "man/tsecho.1 is behind --help:\n  " + \
        "\n  ".join(problems)


def test_readme_and_help_name_every_command_plainly():
    """The README's opening names every command `tsecho --help` lists, and
    no --help speaks of "the seed" (a word only the docs explain)."""
    with open(os.path.join(harness.REPO, "README.md"), encoding="utf-8") as f:
        opening = f.read().split("## Quick start")[0]
    problems = ["README's opening does not name `%s`" % c for c in _commands()
                if "`%s`" % c not in opening and "`tsecho %s`" % c not in opening]
    for cmd in [[]] + [[c] for c in _commands()]:
        if "seed" in _help(*cmd).lower():
            problems.append("tsecho %s --help says 'seed'" % " ".join(cmd))
    assert not problems, "\n  ".join(problems)


def test_man_page_mandoc_lint_clean():
    mandoc = harness.require_tool("mandoc", "mandoc")
    rc, out = _run([mandoc, "-Tlint", "-Wwarning", MAN_PAGE])
    assert rc == 0 and not out.strip(), \
        "mandoc -Tlint -Wwarning exited %d:\n%s" % (rc, out)


def test_man_page_groff_renders_without_warnings():
    groff = harness.require_tool("groff", "groff-base")
    rc, out = _run([groff, "-mdoc", "-Tutf8", "-ww", "-z", MAN_PAGE])
    assert rc == 0 and not out.strip(), \
        "groff -mdoc -ww exited %d:\n%s" % (rc, out)
