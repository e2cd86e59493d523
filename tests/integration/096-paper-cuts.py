#!/usr/bin/python3
"""What an operator tripped over: -t warns, with FILE:LINE, about rules that
name a user or group that does not exist (and still accepts the file); the
session IDs of two daemon starts never repeat; records on standard error
carry the "info: " prefix socksgate(8) shows; the journal catalog's text for
a session that ended at its login, and for a rule refusal without a user,
names only fields those entries carry (as root, with a journal); the socket
drop-in example clears ListenStream= before adding addresses."""
import json
import os
import re
import tempfile
import time

import sgjournal
import sgtest

MISSING_USER = "sg-no-such-user-%d" % os.getpid()
MISSING_GROUP = "sg-no-such-group-%d" % os.getpid()


def test_check_names():
    rules = ["auth = none", "allow user root", "allow group root",
             "allow user %s" % MISSING_USER,
             "deny group root,%s to 10.0.0.0/8" % MISSING_GROUP,
             "allow user root, %s group %s" % (MISSING_USER, MISSING_GROUP)]
    with tempfile.NamedTemporaryFile("w", prefix="socksgate-test-", suffix=".conf") as f:
        f.write("\n".join(rules) + "\n")
        f.flush()
        r = sgtest.run([sgtest.SOCKSGATE, "-t", "-c", f.name])
        path = f.name
    out, err = r.stdout.decode(), r.stderr.decode()
    assert r.returncode == 0 and "configuration OK" in out, out + err
    want = [(4, "user '%s'" % MISSING_USER), (5, "group '%s'" % MISSING_GROUP),
            (6, "user '%s'" % MISSING_USER), (6, "group '%s'" % MISSING_GROUP)]
    lines = err.splitlines()
    assert len(lines) == len(want), err
    for (line_no, what), line in zip(want, lines):
        prefix = "%s:%d: warning: %s does not exist" % (path, line_no, what)
        assert line.startswith(prefix), "%r does not start with %r" % (line, prefix)
    assert "'root'" not in err, err


def one_session(echo):
    with sgtest.Daemon(["auth = none"]) as d:
        sgtest.echo_round_trip(d, echo.port, b"hi")
        sgtest.echo_round_trip(d, echo.port, b"hi")
        d.wait_log(r"session \d+ ", count=2)
        d.stop()
        lines = [l for l in d.log().splitlines() if " session " in l or l.startswith("info:")]
    recs = [l for l in lines if re.match(r"info: session \d+ client=", l)]
    assert len(recs) == 2, "records without the info: prefix?\n" + "\n".join(lines)
    # Sorted: the first session's record can come out after the second's
    # (it ends when its relay sees both sides close, which can take longer).
    return sorted(int(l.split()[2]) for l in recs)


def test_ids(echo):
    a = one_session(echo)
    time.sleep(0.01)
    b = one_session(echo)
    sgtest.log("first start: %r, second start: %r" % (a, b))
    assert a[1] == a[0] + 1 and b[1] == b[0] + 1, (a, b)
    assert not set(a) & set(b), "session IDs repeat across restarts: %r %r" % (a, b)
    assert min(b) > max(a), "a later start numbers below an earlier one: %r %r" % (a, b)


def test_man_page():
    with open(os.path.join(sgtest.TOP_SRCDIR, "docs", "socksgate.8.in")) as f:
        text = f.read()
    examples = re.findall(r"^\\?(?:info: )?session \d+ client=", text, re.M)
    assert examples and all(e.startswith("info: ") for e in examples), examples


def test_drop_in():
    with open(os.path.join(sgtest.TOP_SRCDIR, "systemd", "listen.conf.example")) as f:
        lines = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    assert lines[0] == "[Socket]", lines
    listen = [l for l in lines if l.startswith("ListenStream=")]
    assert listen[0] == "ListenStream=" and len(listen) > 1, lines


def catalog_fields():
    """{MESSAGE_ID: set of @FIELD@ names in its entry}."""
    with open(os.path.join(sgtest.TOP_SRCDIR, "systemd", "socksgate.catalog")) as f:
        text = f.read()
    out = {}
    for part in re.split(r"^-- ", text, flags=re.M)[1:]:
        mid, body = part.split("\n", 1)
        out[mid.strip()] = set(re.findall(r"@([A-Z0-9_]+)@", body))
    return out


def journal_entry(pid, mid, timeout=15):
    journalctl = sgtest.require_tool("journalctl")
    deadline = time.monotonic() + timeout
    while True:
        r = sgtest.run([journalctl, "--no-pager", "-o", "json", "_PID=%d" % pid,
                        "MESSAGE_ID=" + mid])
        got = [json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()]
        if got or time.monotonic() > deadline:
            assert got, "no journal entry %s of pid %d" % (mid, pid)
            return got[0]
        time.sleep(0.2)


def run_journal_daemon(config, env, act):
    """Starts a daemon with log = journal, runs act(d), returns its pid."""
    with sgtest.Daemon(config + ["log = journal"], env=env, wait=False) as d:
        deadline = time.monotonic() + 10
        while sgtest.tcp_refused(d.host, d.port):
            assert d.proc.poll() is None and time.monotonic() < deadline, d.log()
            time.sleep(0.05)
        act(d)
        time.sleep(0.3)
        d.stop()
        return d.proc.pid


def test_catalog():
    if os.geteuid() != 0:
        sgtest.log("not root: the catalog's fields are not checked against the journal")
        return
    ids = sgjournal.message_ids()
    fields = catalog_fields()
    env = sgtest.pam_wrapper_env({"alice": "right"})

    def bad_login(d):
        s = sgtest.connect_proxy(d)
        with s:
            assert sgtest.greet(s, b"\x02") == 2
            assert sgtest.userpass(s, "alice", "wrong") != b"\x01\x00"

    def refused(d):
        s, rep, _, _ = sgtest.socks_request(d, "169.254.169.254", 80)
        s.close()
        assert rep == 2, rep

    with sgjournal.journal():
        pid = run_journal_daemon(["auth = pam", "auth_fail_delay = 0"], env, bad_login)
        entry = journal_entry(pid, ids["SESSION_END"])
        assert "SOCKS_COMMAND" not in entry, entry
        missing = fields[ids["SESSION_END"]] - set(entry)
        assert not missing, "the session-end text names %s, absent at a failed login" % missing
        pid = run_journal_daemon(["auth = none"], None, refused)
        entry = journal_entry(pid, ids["RULE_REFUSAL"])
        missing = fields[ids["RULE_REFUSAL"]] - set(entry)
        assert not missing, "the rule-refusal text names %s, absent without a login" % missing


def test():
    test_check_names()
    with sgtest.echo_server() as echo:
        test_ids(echo)
    test_man_page()
    test_drop_in()
    test_catalog()


sgtest.main(test)
