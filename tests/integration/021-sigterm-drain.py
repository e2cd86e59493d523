#!/usr/bin/python3
"""SIGTERM drains: the gateway stops accepting at once, live sessions go on
working, and the daemon exits 0 as soon as the last one closes. With
drain_timeout = 1s a session that stays open is closed about a second after
the signal and the daemon exits 0. A login stuck inside a PAM module (which a
closed socket cannot interrupt) holds up the exit only for the grace period
after the drain, and the daemon says so."""
import os
import re
import signal
import socket
import time

import sgtest


def wait_refused(d, timeout=3, probes=None):
    """True once a new connection to the gateway is refused. A probe that got
    in before the listening socket closed is still served (the acceptor takes
    what the kernel completed before the close, as a balancer expects), so its
    client address goes into probes when given."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            try:
                s.connect((d.host, d.port))
            except ConnectionRefusedError:
                return True
            if probes is not None:
                probes.add("%s:%d" % s.getsockname())
        time.sleep(0.05)
    return False


def round_trip(s, data):
    s.sendall(data)
    assert sgtest.recv_exact(s, len(data), timeout=5) == data


def exits_within(d, timeout):
    """Waits for the daemon to exit; returns (rc, seconds) or fails."""
    t0 = time.monotonic()
    try:
        rc = d.proc.wait(timeout)
    except Exception:
        raise AssertionError("socksgate still running %.1f s later:\n%s" % (timeout, d.log()))
    return rc, time.monotonic() - t0


def test_drain_until_closed(echo):
    with sgtest.Daemon(["auth = none"]) as d:
        s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port)
        with s:
            assert rep == 0, rep
            round_trip(s, b"before")
            d.signal(signal.SIGTERM)
            d.wait_log(r"no longer accepting", timeout=5)
            probes = set()
            assert wait_refused(d, probes=probes), \
                "new connections still accepted after SIGTERM"
            # The live session is untouched, both ways, and not hurried.
            time.sleep(0.3)
            round_trip(s, b"after the signal")
            round_trip(s, b"x" * 100000)
            assert d.proc.poll() is None, "exited with a live session:\n" + d.log()
        # The last session closed: the daemon exits promptly.
        rc, took = exits_within(d, 5)
        sgtest.log("exited %d, %.2f s after the last session closed" % (rc, took))
        assert rc == 0, (rc, d.log())
        assert took < 2.5, took
        d.wait_log(r"stopped", timeout=1)
        recs = d.sessions()
        # A probe that raced the close was served and closed by the probe
        # itself in its greeting; nothing else may have a record.
        for r in recs:
            if r["client"] in probes:
                assert r["reason"] == "client closed during the greeting", r
        recs = [r for r in recs if r["client"] not in probes]
        assert len(recs) == 1 and recs[0]["reason"] is None, recs
        assert int(recs[0]["up"]) == 6 + 16 + 100000, recs


def test_drain_timeout(echo):
    with sgtest.Daemon(["auth = none", "drain_timeout = 1s"]) as d:
        s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port)
        with s:
            assert rep == 0, rep
            round_trip(s, b"ping")
            t0 = time.monotonic()
            d.signal(signal.SIGTERM)
            rc, _ = exits_within(d, 8)
            took = time.monotonic() - t0
            sgtest.log("exited %d, %.2f s after SIGTERM" % (rc, took))
            assert rc == 0, (rc, d.log())
            assert 0.8 <= took < 4, took
            # The client sees its connection end.
            assert sgtest.closed_by_peer(s, timeout=2), "client connection still open"
        assert "drain period over" in d.log(), d.log()


PAM_EXEC = "/lib/x86_64-linux-gnu/security/pam_exec.so"
STOP_GRACE = 3  # seconds; STOP_GRACE_MS in main.c


def test_stuck_in_pam(echo):
    if not os.path.exists(PAM_EXEC):
        sgtest.log("pam_exec.so not found: stuck-login case not run")
        return
    tmp = os.environ.get("TMPDIR", "/tmp")
    script = os.path.join(tmp, "socksgate-stuck-%d.sh" % os.getpid())
    pidfile = script + ".pid"
    with open(script, "w") as f:
        f.write('#!/bin/sh\necho $$ > "%s"\nexec sleep 60\n' % pidfile)
    os.chmod(script, 0o755)
    try:
        env = sgtest.pam_wrapper_env({"alice": "pw"},
                                     extra_auth=["auth required %s %s" % (PAM_EXEC, script)])
        with sgtest.Daemon(["auth = pam", "drain_timeout = 1s", "handshake_timeout = 2m"],
                           env=env) as d:
            s = sgtest.connect_proxy(d)
            with s:
                assert sgtest.greet(s, b"\x02") == 2
                s.sendall(b"\x01\x05alice\x02pw")
                deadline = time.monotonic() + 10
                while not os.path.exists(pidfile):
                    assert time.monotonic() < deadline, "the PAM script never ran"
                    time.sleep(0.05)
                t0 = time.monotonic()
                d.signal(signal.SIGTERM)
                rc, _ = exits_within(d, 1 + STOP_GRACE + 6)
                took = time.monotonic() - t0
                sgtest.log("exited %d, %.2f s after SIGTERM with a login stuck in PAM" % (rc, took))
                assert rc == 0, (rc, d.log())
                assert took >= 1 + STOP_GRACE - 0.5, took
                assert sgtest.closed_by_peer(s, timeout=2), "client connection still open"
            log = d.log()
            assert re.search(r"1 worker\(s\) still busy", log), log
            assert "stopped" in log, log
    finally:
        try:
            with open(pidfile) as f:
                os.kill(int(f.read().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        for p in (script, pidfile):
            try:
                os.unlink(p)
            except OSError:
                pass


def test():
    with sgtest.echo_server() as echo:
        test_drain_until_closed(echo)
        test_drain_timeout(echo)
        test_stuck_in_pam(echo)


sgtest.main(test)
