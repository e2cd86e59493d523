#!/usr/bin/python3
"""One journal for the fleet: two instances (instance_name a and b), each with
log = journal into a systemd-journald of its own (the test starts both, each
in a mount namespace with a private /run, so neither touches the host's
journal), forwarded by systemd-journal-upload to one systemd-journal-remote on
loopback over plain HTTP. The central file keeps the SOCKS_* fields,
`journalctl --file=... SOCKS_USER=alice` finds alice's sessions from both
instances, and every entry says which instance wrote it (SOCKS_INSTANCE). An
uploader restarted with its state file sends what is new and, of the rest, at
most the one entry at its saved cursor again (systemd 252 does).
First, without root: instance_name on the stderr session line, and a reload
that changes or clears it."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import sgtest

JOURNALD = "/lib/systemd/systemd-journald"
REMOTE = "/lib/systemd/systemd-journal-remote"
UPLOAD = "/lib/systemd/systemd-journal-upload"

IDS = {}
started = []  # every process this test started itself, stopped by pid at the end


def message_ids():
    """The MESSAGE_IDs as log.h defines them (the test must not restate them)."""
    with open(os.path.join(sgtest.TOP_SRCDIR, "src", "log.h")) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "#define" and parts[1].startswith("LOG_ID_"):
                IDS[parts[1][len("LOG_ID_"):]] = parts[2].strip('"')
    assert {"START", "STOP", "SESSION_END", "AUTH_FAILURE"} <= set(IDS), IDS


def wait_for(what, cond, timeout, diag=lambda: ""):
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ds waiting for %s\n%s" % (timeout, what,
                                                                              diag()))
        time.sleep(0.1)


def test_stderr():
    """instance=NAME after the session number on stderr; a reload changes it
    and clearing it drops it."""
    with sgtest.echo_server() as echo, sgtest.Daemon(
            ["auth = none", "log = stderr", "instance_name = gw1.c_3"]) as d:
        sgtest.echo_round_trip(d, echo.port, b"x")
        d.wait_log(r"session \d+ instance=gw1\.c_3 client=127\.0\.0\.1:", timeout=10)
        d.rewrite(["auth = none", "log = stderr", "instance_name = d"])
        d.signal(signal.SIGHUP)
        d.wait_log(r"configuration reloaded", timeout=10)
        sgtest.echo_round_trip(d, echo.port, b"y")
        d.wait_log(r"session \d+ instance=d client=", timeout=10)
        d.rewrite(["auth = none", "log = stderr"])
        d.signal(signal.SIGHUP)
        d.wait_log(r"configuration reloaded", timeout=10, count=2)
        sgtest.echo_round_trip(d, echo.port, b"z")
        d.wait_log(r"session \d+ client=", timeout=10)
        recs = d.sessions()
        assert [r.get("instance") for r in recs] == ["gw1.c_3", "d", None], recs
    sgtest.log("stderr: instance= on the session line, changed and cleared by reloads")


def in_private_run(run):
    """A command prefix: the command sees the directory run as its /run, so
    its journal socket is run/systemd/journal/socket (the same inode for every
    process given the same run)."""
    return ["unshare", "-m", "--propagation", "private", "sh", "-c",
            'mount --bind "$0" /run && exec "$@"', run]


def socket_listening(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        try:
            s.connect(path)
            return True
        except OSError:
            return False


def start_journald(tmp, name):
    """A journald whose /run is tmp/name/run: volatile storage only (never the
    host's /var/log/journal) and no kernel messages. Returns (run, files)."""
    run = os.path.join(tmp, name, "run")
    confd = os.path.join(run, "systemd", "journald.conf.d")
    os.makedirs(confd)
    with open(os.path.join(confd, "test.conf"), "w") as f:
        f.write("[Journal]\nStorage=volatile\nReadKMsg=no\nForwardToSyslog=no\n"
                "ForwardToWall=no\n")
    logpath = os.path.join(tmp, name, "journald.log")
    with open(logpath, "w") as out:
        proc = subprocess.Popen(in_private_run(run) + [JOURNALD], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT)
    started.append(proc)
    sock = os.path.join(run, "systemd", "journal", "socket")
    deadline = time.monotonic() + 10
    while not socket_listening(sock):
        if proc.poll() is not None or time.monotonic() > deadline:
            sgtest.terminate(proc, 5)
            with open(logpath) as f:
                sgtest.skip("systemd-journald in a private /run does not run here: " +
                            f.read()[-500:])
        time.sleep(0.05)
    files = os.path.join(run, "log", "journal")
    # The uploader wants the directory with the journal file in it.
    wait_for("journald %s's journal file" % name, lambda: any(
        n.endswith(".journal") for _, _, names in os.walk(files) for n in names), 10)
    sgtest.log("journald %s: pid %d, /run is %s" % (name, proc.pid, run))
    return run, files


def journal(journalctl, where, *matches):
    """Entries as dicts: where is ["-D", dir] or ["--file=" + path]."""
    r = sgtest.run([journalctl, "--no-pager", "-o", "json"] + where + list(matches), timeout=30)
    return [json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()]


def start_remote(tmp):
    port = sgtest.free_port()
    out_file = os.path.join(tmp, "central", "remote.journal")
    os.makedirs(os.path.dirname(out_file))
    logpath = os.path.join(tmp, "central", "remote.log")
    with open(logpath, "w") as out:
        proc = subprocess.Popen([REMOTE, "--listen-http=127.0.0.1:%d" % port,
                                 "--split-mode=none", "--output=" + out_file],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    started.append(proc)

    def listening():
        assert proc.poll() is None, "journal-remote exited:\n" + open(logpath).read()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False
    wait_for("journal-remote to listen on 127.0.0.1:%d" % port, listening, 10)
    sgtest.log("journal-remote: pid %d on 127.0.0.1:%d, writing %s" % (proc.pid, port, out_file))
    return proc, "http://127.0.0.1:%d" % port, out_file


def upload_cmd(url, files, state):
    return [UPLOAD, "--url=" + url, "--directory=" + files, "--save-state=" + state]


def start_upload(tmp, name, url, files):
    state = os.path.join(tmp, name, "upload.state")
    logpath = os.path.join(tmp, name, "upload.log")
    with open(logpath, "w") as out:
        proc = subprocess.Popen(upload_cmd(url, files, state) + ["--follow=yes"],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    started.append(proc)
    return proc, state, logpath


def sessions(d, echo_port, plan):
    """Runs plan: (user, password, payload); payload None for a refused login."""
    for user, password, payload in plan:
        if payload is None:
            s = sgtest.connect_proxy(d)
            assert sgtest.greet(s, b"\x02") == 2
            assert sgtest.userpass(s, user, password)[1] != 0
            assert sgtest.closed_by_peer(s)
            s.close()
            continue
        s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo_port, user=user,
                                            password=password)
        assert rep == 0, rep
        s.sendall(payload)
        assert sgtest.recv_exact(s, len(payload)) == payload
        s.close()


def only(entries, **match):
    found = [e for e in entries if all(e.get(k) == v for k, v in match.items())]
    assert len(found) == 1, "%d entries match %r:\n%s" % (
        len(found), match, "\n".join(json.dumps(e) for e in entries))
    return found[0]


def distinct(entries):
    """The entries without repeats: a copy sent twice has the same source
    timestamp, process and message (only the central cursor differs)."""
    seen, out = set(), []
    for e in entries:
        key = (e.get("__REALTIME_TIMESTAMP"), e.get("_PID"), e.get("MESSAGE"))
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def check_central(journalctl, central, plans, echo_port):
    where = ["--file=" + central]
    got = distinct(journal(journalctl, where, "SYSLOG_IDENTIFIER=socksgate"))
    assert got, "no socksgate entries in the central journal"
    for e in got:
        # Exactly one value (a repeated field would come back as a list).
        assert e.get("SOCKS_INSTANCE") in plans, e
        assert e["_HOSTNAME"] == socket.gethostname(), e
        assert len(e.get("_MACHINE_ID", "")) == 32, e
    for name in plans:
        mine = [e for e in got if e["SOCKS_INSTANCE"] == name]
        # Every entry carries it, the lifecycle events as well as the records.
        only(mine, MESSAGE_ID=IDS["START"])
        only(mine, MESSAGE_ID=IDS["STOP"])
        recs = [e for e in mine if e.get("MESSAGE_ID") == IDS["SESSION_END"]]
        assert len(recs) == len(plans[name]), (name, recs)
        ids = [e["SOCKS_SESSION_ID"] for e in mine if "SOCKS_SESSION_ID" in e]
        assert len(ids) == len(set(ids)) == len(recs), (name, ids)
        for e in recs:
            assert e["MESSAGE"].startswith("session %s instance=%s client=127.0.0.1:" % (
                e["SOCKS_SESSION_ID"], name)), e
            assert e["SOCKS_CLIENT_ADDR"] == "127.0.0.1", e
            assert 0 < int(e["SOCKS_CLIENT_PORT"]) < 65536, e
            assert int(e["SOCKS_DURATION_MS"]) >= 0, e
        for user, _, payload in plans[name]:
            if payload is None:
                continue
            ok = only(recs, SOCKS_USER=user, SOCKS_BYTES_UP=str(len(payload)))
            assert ok["SOCKS_COMMAND"] == "connect", ok
            assert ok["SOCKS_AUTH"] == "pam", ok
            assert ok["SOCKS_DEST_HOST"] == "127.0.0.1", ok
            assert ok["SOCKS_DEST_PORT"] == str(echo_port), ok
            assert ok["SOCKS_DEST_ADDR"] == "127.0.0.1", ok
            assert ok["SOCKS_REPLY"] == "0x00", ok
            assert ok["SOCKS_BYTES_DOWN"] == str(len(payload)), ok
    assert not any("secret" in json.dumps(e) for e in got), "password in the journal"

    # The central host's queries: a user's sessions from every instance...
    alice = distinct(journal(journalctl, where, "SOCKS_USER=alice"))
    recs = [e for e in alice if e.get("MESSAGE_ID") == IDS["SESSION_END"]]
    want = sorted((n, len(p or b"")) for n, plan in plans.items() for u, _, p in plan
                  if u == "alice")
    have = sorted((e["SOCKS_INSTANCE"], int(e["SOCKS_BYTES_UP"])) for e in recs)
    assert have == want, (have, want)
    assert {e["SOCKS_INSTANCE"] for e in recs} == set(plans), recs
    assert all(e["SOCKS_USER"] == "alice" for e in alice), alice
    fail = only(alice, MESSAGE_ID=IDS["AUTH_FAILURE"])
    assert fail["SOCKS_INSTANCE"] == "b" and fail["SOCKS_CLIENT_ADDR"] == "127.0.0.1", fail
    # ...one instance's entries, and both matches at once (AND of two fields).
    b = distinct(journal(journalctl, where, "SOCKS_INSTANCE=b"))
    assert b and all(e["SOCKS_INSTANCE"] == "b" for e in b), b
    assert len(b) == len([e for e in got if e["SOCKS_INSTANCE"] == "b"]), b
    bob_a = distinct(journal(journalctl, where, "SOCKS_INSTANCE=a", "SOCKS_USER=bob"))
    assert len(bob_a) == 1 and bob_a[0]["SOCKS_BYTES_UP"] == "3", bob_a
    assert journal(journalctl, where, "SOCKS_INSTANCE=b", "SOCKS_USER=bob") == []
    sgtest.log("central journal: %d socksgate entries from %s, alice's sessions from both"
               % (len(got), ", ".join(sorted(plans))))


def check_restart(journalctl, central, local, url, state, remote):
    """An uploader restarted with its state file sends what is new, and of
    the old entries at most the one at its saved cursor: systemd 252 sends
    that last one again (the central queries below see past such a copy)."""
    run, files = local
    before = journal(journalctl, ["--file=" + central], "SOCKS_INSTANCE=a")
    marker = "written while the uploader was down"
    sgtest.run(in_private_run(run) + ["systemd-cat", "-t", "sgtest-marker"],
               input=marker.encode(), timeout=10)
    wait_for("the marker in journal a", lambda: journal(
        journalctl, ["-D", files], "SYSLOG_IDENTIFIER=sgtest-marker"), 10)
    r = sgtest.run(upload_cmd(url, files, state) + ["--follow=no"], timeout=30)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert sgtest.terminate(remote, 10) is not None, "journal-remote ignored SIGTERM"
    got = journal(journalctl, ["--file=" + central], "SYSLOG_IDENTIFIER=sgtest-marker")
    assert [e["MESSAGE"] for e in got] == [marker], got
    after = journal(journalctl, ["--file=" + central], "SOCKS_INSTANCE=a")
    assert len(before) <= len(after) <= len(before) + 1, (len(before), len(after))
    assert len(distinct(after)) == len(before), "entries lost or changed"


def test():
    test_stderr()
    sgtest.require_root("private journalds (mount namespaces) need root")
    for path, pkg in ((JOURNALD, "systemd"), (REMOTE, "systemd-journal-remote"),
                      (UPLOAD, "systemd-journal-remote")):
        if not os.access(path, os.X_OK):
            sgtest.skip("%s is missing (package %s)" % (path, pkg))
    sgtest.require_tool("unshare")
    journalctl = sgtest.require_tool("journalctl")
    message_ids()
    env = sgtest.pam_wrapper_env({"alice": "secret", "bob": "hunter2"})
    plans = {
        "a": [("alice", "secret", b"from a"), ("bob", "hunter2", b"bob")],
        "b": [("alice", "secret", b"alice via b"), ("alice", "wrong", None)],
    }
    tmp = tempfile.mkdtemp(prefix="socksgate-journal-remote-")
    try:
        remote, url, central = start_remote(tmp)
        local = {n: start_journald(tmp, n) for n in plans}
        uploads = {n: start_upload(tmp, n, url, local[n][1]) for n in plans}
        with sgtest.echo_server() as echo:
            echo_port = echo.port
            for name in plans:
                cfg = ["auth = pam", "log = journal", "instance_name = " + name,
                       "auth_fail_delay = 0", "auth_fail_limit = 0"]
                with sgtest.Daemon(cfg, env=env, wait=False,
                                   cmd_prefix=in_private_run(local[name][0])) as d:
                    def up():
                        assert d.proc.poll() is None, "socksgate exited:\n" + d.log()
                        return any(e.get("MESSAGE_ID") == IDS["START"] for e in journal(
                            journalctl, ["-D", local[name][1]], "_PID=%d" % d.proc.pid))
                    wait_for("instance %s's start entry" % name, up, 10, d.log)
                    sessions(d, echo.port, plans[name])
                    d.stop()
                    assert "session " not in d.log(), "records went to stderr:\n" + d.log()

        def arrived():
            got = journal(journalctl, ["--file=" + central], "MESSAGE_ID=" + IDS["STOP"])
            return len({e["_PID"] for e in got}) == len(plans)

        def upload_logs():
            return "\n".join(open(u[2]).read() for u in uploads.values())
        wait_for("both instances' stop entries in the central journal", arrived, 60,
                 upload_logs)
        for name, (proc, state, _) in uploads.items():
            assert proc.poll() is None, "uploader %s exited:\n%s" % (name, upload_logs())
            sgtest.terminate(proc, 10)
            with open(state) as f:
                assert "LAST_CURSOR=" in f.read(), "uploader %s kept no cursor" % name
        check_restart(journalctl, central, local["a"], url, uploads["a"][1], remote)
        check_central(journalctl, central, plans, echo_port)
    finally:
        for proc in reversed(started):
            sgtest.terminate(proc, 10)
        shutil.rmtree(tmp, ignore_errors=True)


sgtest.main(test)
