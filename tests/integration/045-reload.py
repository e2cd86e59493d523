#!/usr/bin/python3
"""SIGHUP reload: a valid new config serves new sessions while a live session
keeps relaying under the one it started with; an invalid config is reported
with FILE:LINE for every error and the running config stays in force."""
import re
import signal
import time

import sgtest


def write_config(d, lines):
    """Rewrites the config; returns the line number before the first of lines."""
    d.rewrite(lines)
    return len(d.head)


def test():
    env = sgtest.pam_wrapper_env({"alice": "secret"})
    with sgtest.echo_server() as echo, sgtest.Daemon(["auth = none"], env=env) as d:
        live, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port)
        assert rep == 0, rep
        with live:
            write_config(d, ["auth = pam", "auth_fail_delay = 0", "handshake_timeout = 1s"])
            d.signal(signal.SIGHUP)
            d.wait_log(r"^notice: configuration reloaded; new sessions use it$")

            # The new handshake timeout (was 10 s) closes a silent new client.
            t0 = time.monotonic()
            s = sgtest.connect_proxy(d)
            assert sgtest.closed_by_peer(s, timeout=8), "the silent client was not closed"
            took = time.monotonic() - t0
            assert 0.8 < took < 4, "closed after %.1f s, the new timeout is 1 s" % took
            s.close()

            # New sessions: only username/password now.
            s = sgtest.connect_proxy(d)
            assert sgtest.greet(s, b"\x00") == 0xFF
            s.close()
            s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port, user="alice",
                                                password="secret")
            assert rep == 0
            s.close()
            # The live session, begun without authentication, goes on.
            live.sendall(b"still mine")
            assert sgtest.recv_exact(live, 10) == b"still mine"

            # Two errors, each with its line; nothing changes.
            n = write_config(d, ["auth = none", "workers_min = lots", "bogus_key = 1"])
            d.signal(signal.SIGHUP)
            d.wait_log(r"reload failed with 2 error\(s\); keeping the old configuration")
            log = d.log()
            assert re.search(r"^error: %s:%d: workers_min: 'lots'" % (re.escape(d.conf), n + 2),
                             log, re.M), log
            assert re.search(r"^error: %s:%d: unknown key 'bogus_key'" % (re.escape(d.conf), n + 3),
                             log, re.M), log
            s = sgtest.connect_proxy(d)
            assert sgtest.greet(s, b"\x00") == 0xFF, "the invalid config took effect"
            s.close()
            live.sendall(b"x")
            assert sgtest.recv_exact(live, 1) == b"x"
        assert len(re.findall(r"configuration reloaded", d.log())) == 1, d.log()


sgtest.main(test)
