#!/usr/bin/python3
"""contrib/fail2ban's filter, run by fail2ban-regex over real failed logins,
matches every failure, with the client's address, and nothing else: not a
successful login, not the session records whose reason says
"Authentication failure", not a username crafted to look like a second
failure line ("x from 1.2.3.4", one with a newline in it). Once over the
daemon's standard error, and (as root) over the journal with the filter's
journalmatch, its unit swapped for the test daemon's pid."""
import os
import re
import shutil
import subprocess
import tempfile
import time

import sgjournal
import sgtest

FILTER = os.path.join(sgtest.TOP_SRCDIR, "contrib", "fail2ban", "filter.d", "socksgate.conf")
COMMON = "/etc/fail2ban/filter.d/common.conf"
# (user, password, source address): every one fails.
FAILURES = [
    ("alice", "wrong", "127.0.0.1"),
    ("alice", "wrong", "127.0.0.2"),
    ("mallory", "guess", "127.0.0.1"),
    (b"x from 1.2.3.4", b"pw", "127.0.0.1"),
    (b"y\nwarning: authentication failure for z from 5.6.7.8", b"pw", "127.0.0.1"),
    (b"a\\b\"c from 9.9.9.9 ", b"pw", "127.0.0.1"),
    (b"", b"pw", "127.0.0.1"),
]


def attempt(d, user, password, source="127.0.0.1"):
    s = sgtest.connect_proxy(d, source=source)
    with s:
        assert sgtest.greet(s, b"\x02") == 2
        return sgtest.userpass(s, user, password) == b"\x01\x00"


def traffic(d):
    """The failures, between successful logins that must not match."""
    assert attempt(d, "alice", "secret")
    for user, password, source in FAILURES:
        assert not attempt(d, user, password, source), user
    assert attempt(d, "alice", "secret", "127.0.0.2")


def filter_dir(tmp):
    """The filter beside the common.conf it includes, as fail2ban installs it."""
    if not os.path.exists(COMMON):
        sgtest.skip(COMMON + " is missing (package fail2ban)")
    d = os.path.join(tmp, "filter.d")
    os.makedirs(d)
    shutil.copy(FILTER, d)
    shutil.copy(COMMON, d)
    return os.path.join(d, "socksgate.conf")


def fail2ban_regex(args):
    """Runs fail2ban-regex twice: the summary's matched count, and the
    addresses of the matches."""
    tool = sgtest.require_tool("fail2ban-regex")
    r = subprocess.run([tool] + args, capture_output=True, timeout=120)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, out + r.stderr.decode(errors="replace")
    m = re.search(r"^Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed", out, re.M)
    assert m, out
    ips = subprocess.run([tool, "--out", "ip"] + args, capture_output=True, timeout=120)
    assert ips.returncode == 0, ips.stderr.decode(errors="replace")
    return int(m.group(1)), int(m.group(3)), ips.stdout.decode().split()


def check_matches(lines, matched, ips, what):
    want = sorted(src for _, _, src in FAILURES)
    sgtest.log("%s: %d lines, %d matched: %s" % (what, lines, matched, " ".join(ips)))
    assert matched == len(FAILURES), "%s: %d matched, %d failures" % (what, matched,
                                                                    len(FAILURES))
    assert sorted(ips) == want, "%s: banned %r, expected %r" % (what, ips, want)
    assert lines > matched, "%s: nothing else was read" % what


def test_stderr(flt):
    env = sgtest.pam_wrapper_env({"alice": "secret"})
    with sgtest.Daemon(["auth = pam", "auth_fail_delay = 0", "auth_fail_limit = 0",
                        "log = stderr"], env=env) as d:
        traffic(d)
        d.wait_log(r"session \d+ ", count=len(FAILURES) + 2)
        d.stop()
        log = d.log()
        assert len(re.findall(r"^warning: authentication failure for ", log, re.M)) == \
            len(FAILURES), log
        # The lines carry no time: fail2ban-regex reads them without one.
        lines, matched, ips = fail2ban_regex(["-d", "{NONE}", d.logpath, flt])
        check_matches(lines, matched, ips, "standard error")


def journal_match(flt, pid):
    """The filter's journalmatch, with its unit swapped for the daemon's pid."""
    with open(flt) as f:
        m = re.search(r"^journalmatch\s*=\s*(.+)$", f.read(), re.M)
    assert m, "the filter has no journalmatch"
    terms = m.group(1).split()
    ids = sgjournal.message_ids()
    assert "_SYSTEMD_UNIT=socksgate.service" in terms, terms
    assert "MESSAGE_ID=" + ids["AUTH_FAILURE"] in terms, terms
    return " ".join("_PID=%d" % pid if t.startswith("_SYSTEMD_UNIT=") else t for t in terms)


def journal_failures(pid, want, timeout=15):
    journalctl = sgtest.require_tool("journalctl")
    ids = sgjournal.message_ids()
    deadline = time.monotonic() + timeout
    while True:
        r = sgtest.run([journalctl, "--no-pager", "-o", "cat", "_PID=%d" % pid,
                        "MESSAGE_ID=" + ids["AUTH_FAILURE"]])
        got = [l for l in r.stdout.decode(errors="replace").splitlines() if l]
        if len(got) >= want or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def test_journal(flt):
    if os.geteuid() != 0:
        sgtest.log("not root: the journal part is not run")
        return
    env = sgtest.pam_wrapper_env({"alice": "secret"})
    with sgjournal.journal():
        with sgtest.Daemon(["auth = pam", "auth_fail_delay = 0", "auth_fail_limit = 0",
                            "log = journal"], env=env, wait=False) as d:
            deadline = time.monotonic() + 10
            while sgtest.tcp_refused(d.host, d.port):  # "started" went to the journal
                assert d.proc.poll() is None and time.monotonic() < deadline, d.log()
                time.sleep(0.05)
            traffic(d)
            got = journal_failures(d.proc.pid, len(FAILURES))
            assert len(got) == len(FAILURES), got
            d.stop()
            match = journal_match(flt, d.proc.pid)
            lines, matched, ips = fail2ban_regex(["-m", match, "systemd-journal", flt])
            check_matches(lines + 1, matched, ips, "journal (%s)" % match)
            # Without the MESSAGE_ID, every entry of the daemon is read (start,
            # session records, stop): the regex alone still matches only the
            # failures.
            lines, matched, ips = fail2ban_regex(["-m", "_PID=%d" % d.proc.pid,
                                                  "systemd-journal", flt])
            check_matches(lines, matched, ips, "journal, every entry")


def test():
    sgtest.require_tool("fail2ban-regex")
    tmp = tempfile.mkdtemp(prefix="socksgate-f2b-")
    try:
        flt = filter_dir(tmp)
        test_stderr(flt)
        test_journal(flt)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


sgtest.main(test)
