#!/usr/bin/python3
"""SIGHUP applies new rules and limits to new requests while a live session
goes on under the rules it started with; a reload with a broken rule keeps
the old configuration and reports the rule's FILE:LINE."""
import signal

import sgtest


def request(d, port):
    s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", port)
    return s, rep


def test():
    with sgtest.echo_server() as echo, sgtest.Daemon(["auth = none"]) as d:
        live, rep = request(d, echo.port)
        assert rep == 0
        live.sendall(b"1")
        assert sgtest.recv_exact(live, 1) == b"1"

        deny = "deny to 127.0.0.1 port %d" % echo.port
        d.rewrite(["auth = none", deny])
        deny_line = d.line_of(deny)
        d.signal(signal.SIGHUP)
        d.wait_log(r"configuration reloaded")
        s, rep = request(d, echo.port)
        assert rep == 0x02, "a new request was not refused after the reload"
        s.close()
        live.sendall(b"2")
        assert sgtest.recv_exact(live, 1) == b"2", "the live session did not continue"

        broken = "allow to 127.0.0.1 port 1-"
        d.rewrite(["auth = none", broken, deny])
        d.signal(signal.SIGHUP)
        d.wait_log(r"reload failed")
        d.wait_log(r"^(error: )?%s:%d: port: '1-'" % (d.conf.replace(".", r"\."), d.line_of(broken)))
        s, rep = request(d, echo.port)
        assert rep == 0x02, "the broken reload changed the rules"
        s.close()

        d.rewrite(["auth = none"])
        d.signal(signal.SIGHUP)
        d.wait_log(r"configuration reloaded", count=2)
        s, rep = request(d, echo.port)
        assert rep == 0
        s.close()
        live.close()
        d.wait_log(r"session \d+ ", count=4)
        recs = sorted(d.sessions(), key=lambda r: r["id"])
        assert recs[1]["reason"] == "refused by rule %s:%d" % (d.conf, deny_line), recs[1]


sgtest.main(test)
