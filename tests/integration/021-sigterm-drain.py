#!/usr/bin/python3
"""SIGTERM drains: the gateway stops accepting at once, live sessions go on
working, and the daemon exits 0 as soon as the last one closes. With
drain_timeout = 1s a session that stays open is closed about a second after
the signal and the daemon exits 0."""
import signal
import socket
import time

import sgtest


def wait_refused(d, timeout=3):
    """True once a new connection to the gateway is refused."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            try:
                s.connect((d.host, d.port))
            except ConnectionRefusedError:
                return True
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
            assert wait_refused(d), "new connections still accepted after SIGTERM"
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


def test():
    with sgtest.echo_server() as echo:
        test_drain_until_closed(echo)
        test_drain_timeout(echo)


sgtest.main(test)
