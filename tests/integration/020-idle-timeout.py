#!/usr/bin/python3
"""idle_timeout = 1s: an established CONNECT session with no traffic is closed
by the gateway after about a second and its record says "idle timeout"; a
session that trickles a byte every 0.3 s for 3 s stays open."""
import time

import sgtest


def test():
    with sgtest.echo_server() as echo, \
            sgtest.Daemon(["auth = none", "idle_timeout = 1s"]) as d:
        # Silent session: closed by the gateway.
        s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port)
        with s:
            assert rep == 0, rep
            t0 = time.monotonic()
            assert sgtest.closed_by_peer(s, timeout=5), "idle session still open after 5 s"
            took = time.monotonic() - t0
            sgtest.log("idle session closed after %.2f s" % took)
            assert took >= 0.8, "closed after %.2f s, before the idle timeout" % took
        d.wait_log(r"session \d+ .*reason=idle timeout", timeout=5)
        rec = d.sessions()[0]
        assert rec["reason"] == "idle timeout", rec
        assert rec["reply"].startswith("0x00"), rec

        # Trickling session: every 0.3 s one byte each way, for 3 s.
        s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port)
        with s:
            assert rep == 0, rep
            end = time.monotonic() + 3
            n = 0
            while time.monotonic() < end:
                s.sendall(b"%c" % (65 + n % 26))
                assert sgtest.recv_exact(s, 1, timeout=2) == b"%c" % (65 + n % 26), n
                n += 1
                time.sleep(0.3)
            # Still open: a last round trip works.
            s.sendall(b"still here")
            assert sgtest.recv_exact(s, 10, timeout=2) == b"still here"
            sgtest.log("trickled %d bytes over 3 s" % n)
            assert n >= 8, n
        recs = d.wait_log(r"session \d+ ", count=2, timeout=5)
        assert len(recs) == 2
        rec = d.sessions()[1]
        assert rec["reason"] is None, rec
        assert int(rec["up"]) == n + 10 and int(rec["down"]) == n + 10, rec


sgtest.main(test)
