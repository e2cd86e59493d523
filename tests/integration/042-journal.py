#!/usr/bin/python3
"""The journal: with log = journal every event is a journal entry with its
MESSAGE_ID, and session records and failed logins carry the SOCKS_* fields.
Runs as root against the system journald, or a systemd-journald it starts
itself when none is running (and stops again, by pid, removing the files it
made). Reads the entries back with journalctl -o json. Without a journal (a
private, empty /run), log = journal falls back to standard error."""
import json
import os
import shutil
import signal
import tempfile
import time

import sgjournal
import sgtest
from sgjournal import (JOURNALD, JOURNALD_DIRS, journald_listening, paths_under, remove_new,
                       start_journald)

IDS = {}


def message_ids():
    """The MESSAGE_IDs as log.h defines them (the test must not restate them)."""
    IDS.update(sgjournal.message_ids())


def test_no_journal():
    """With no journald (an empty private /run), log = journal must not drop
    messages: they go to standard error."""
    if not shutil.which("unshare"):
        sgtest.log("unshare missing: no-journal case not run")
        return
    prefix = ["unshare", "-m", "--propagation", "private", "sh", "-c",
              'mount -t tmpfs none /run && exec "$@"', "sh"]
    with sgtest.echo_server() as echo, sgtest.Daemon(["auth = none", "log = journal"],
                                                     cmd_prefix=prefix) as d:
        s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port)
        assert rep == 0, rep
        s.close()
        d.wait_log(r"session \d+ ", timeout=10)
        d.stop()
        assert "stopped" in d.log(), d.log()
    sgtest.log("no journal: messages went to standard error")


def entries(journalctl, d, want_stop=True, timeout=15):
    cmdline = " ".join([sgtest.SOCKSGATE, "-c", d.conf])
    deadline = time.monotonic() + timeout
    while True:
        r = sgtest.run([journalctl, "--no-pager", "-o", "json", "_PID=%d" % d.proc.pid,
                        "_CMDLINE=" + cmdline, "SYSLOG_IDENTIFIER=socksgate"])
        got = [json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()]
        if not want_stop or any(e.get("MESSAGE_ID") == IDS["STOP"] for e in got):
            return got
        if time.monotonic() > deadline:
            raise AssertionError("journal entries incomplete (rc %d, %s):\n%s" % (
                r.returncode, r.stderr.decode(), "\n".join(e.get("MESSAGE", "?") for e in got)))
        time.sleep(0.2)


def one(got, **match):
    found = [e for e in got if all(e.get(k) == v for k, v in match.items())]
    assert len(found) == 1, "%d entries match %r:\n%s" % (
        len(found), match, "\n".join(json.dumps(e) for e in got))
    return found[0]


def test():
    sgtest.require_root("reading and writing the system journal needs root")
    if not os.access(JOURNALD, os.X_OK):
        sgtest.skip(JOURNALD + " is missing (package systemd)")
    journalctl = sgtest.require_tool("journalctl")
    message_ids()
    env = sgtest.pam_wrapper_env({"alice": "secret"})
    journald = None
    tmp = tempfile.mkdtemp(prefix="socksgate-journal-")
    before = None
    try:
        test_no_journal()
        if not journald_listening():
            before = paths_under(JOURNALD_DIRS)
            journald, jout = start_journald(tmp)
            sgtest.log("started systemd-journald, pid %d" % journald.pid)
        closed_port = sgtest.free_port()
        with sgtest.echo_server() as echo, sgtest.Daemon(
                ["auth = pam", "log = journal", "auth_fail_delay = 0", "auth_fail_limit = 0"],
                env=env, wait=False) as d:
            # "started" is in the journal, not on stderr: wait for it there.
            deadline = time.monotonic() + 10
            while True:
                got = entries(journalctl, d, want_stop=False)
                if any(e.get("MESSAGE_ID") == IDS["START"] for e in got):
                    break
                assert d.proc.poll() is None, d.log()
                assert time.monotonic() < deadline, "no start entry:\n" + d.log()
                time.sleep(0.1)

            s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port, user="alice",
                                                password="secret")
            client_port = s.getsockname()[1]
            s.sendall(b"hello")
            assert sgtest.recv_exact(s, 5) == b"hello"
            s.close()

            s, rep, _, _ = sgtest.socks_request(d, "localhost", closed_port, user="alice",
                                                password="secret")
            assert rep == 5, rep
            s.close()

            s = sgtest.connect_proxy(d)
            assert sgtest.greet(s, b"\x02") == 2
            assert sgtest.userpass(s, "alice", "wrong")[1] != 0
            assert sgtest.closed_by_peer(s)
            s.close()

            time.sleep(0.3)
            d.signal(signal.SIGHUP)
            time.sleep(0.5)
            d.stop()
            # Nothing went to stderr but what must: the journal took the rest.
            assert "session " not in d.log() and "started" not in d.log(), d.log()

            got = entries(journalctl, d)
            for e in got:
                assert "CODE_FILE" not in e, e
                assert e["SYSLOG_IDENTIFIER"] == "socksgate", e
            one(got, MESSAGE_ID=IDS["START"], PRIORITY="5")
            one(got, MESSAGE_ID=IDS["RELOAD"], PRIORITY="5")
            one(got, MESSAGE_ID=IDS["STOP"], PRIORITY="5")

            fail = one(got, MESSAGE_ID=IDS["AUTH_FAILURE"])
            assert fail["PRIORITY"] == "4", fail
            assert fail["SOCKS_USER"] == "alice", fail
            assert fail["SOCKS_CLIENT_ADDR"] == "127.0.0.1", fail
            assert fail["MESSAGE"] == "authentication failure for alice from 127.0.0.1", fail

            recs = [e for e in got if e.get("MESSAGE_ID") == IDS["SESSION_END"]]
            assert len(recs) == 3, recs
            ids = sorted(int(e["SOCKS_SESSION_ID"]) for e in recs)
            assert len(set(ids)) == 3, ids
            for e in recs:
                assert e["PRIORITY"] == "6", e
                assert e["MESSAGE"].startswith("session %s " % e["SOCKS_SESSION_ID"]), e
                assert e["SOCKS_CLIENT_ADDR"] == "127.0.0.1", e
                assert 0 < int(e["SOCKS_CLIENT_PORT"]) < 65536, e
                assert int(e["SOCKS_DURATION_MS"]) >= 0, e
                assert e["SOCKS_USER"] == "alice", e

            ok = one(recs, SOCKS_CLIENT_PORT=str(client_port))
            # The first login ran PAM, the second came from the credential
            # cache; the failed one says neither.
            assert ok["SOCKS_AUTH"] == "pam", ok
            assert sorted(e.get("SOCKS_AUTH", "-") for e in recs) == ["-", "cache", "pam"], recs
            assert ok["SOCKS_COMMAND"] == "connect", ok
            assert ok["SOCKS_DEST_HOST"] == "127.0.0.1", ok
            assert ok["SOCKS_DEST_PORT"] == str(echo.port), ok
            assert ok["SOCKS_DEST_ADDR"] == "127.0.0.1", ok
            assert ok["SOCKS_REPLY"] == "0x00", ok
            assert ok["SOCKS_BYTES_UP"] == "5" and ok["SOCKS_BYTES_DOWN"] == "5", ok
            assert "SOCKS_REASON" not in ok, ok

            refused = one(recs, SOCKS_REPLY="0x05")
            assert refused["SOCKS_DEST_HOST"] == "localhost", refused
            assert refused["SOCKS_DEST_PORT"] == str(closed_port), refused
            assert "refused" in refused["SOCKS_REASON"].lower(), refused
            assert refused["SOCKS_BYTES_UP"] == "0", refused

            bad = [e for e in recs if "SOCKS_COMMAND" not in e]
            assert len(bad) == 1 and "SOCKS_REPLY" not in bad[0], bad
            assert bad[0]["SOCKS_REASON"], bad
            assert not any("secret" in json.dumps(e) for e in got), "password in the journal"
    finally:
        if journald is not None:
            sgtest.terminate(journald, 10)
            jout.close()
            remove_new(before)
        shutil.rmtree(tmp, ignore_errors=True)


sgtest.main(test)
