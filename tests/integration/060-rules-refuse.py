#!/usr/bin/python3
"""Operator rules decide destinations, first match wins: a destination refused
by a rule gets reply 0x02 and its session record names the rule's FILE:LINE;
a name refused by a name rule is refused before any DNS query; comma lists and
port ranges work; what no rule allows on loopback falls to the default policy,
which the record names too."""
import sgtest


def expect(d, host, port, want):
    s, rep, _, _ = sgtest.socks_request(d, host, port)
    assert rep == want, "%s:%d: reply 0x%02x, expected 0x%02x" % (host, port, rep, want)
    if rep == 0:
        s.sendall(b"ping")
        assert sgtest.recv_exact(s, 4) == b"ping"
    else:
        assert sgtest.closed_by_peer(s), "connection left open after 0x%02x" % rep
    s.close()


def test():
    with sgtest.echo_server() as echo, sgtest.echo_server("127.0.0.2") as echo2:
        closed = sgtest.free_port()
        deny2 = "deny to 127.0.0.2 port %d" % echo2.port
        deny_name = "deny to .blocked.test,exact.test"
        allow = "allow to 127.0.0.0/8,::1 port %d,%d-%d" % (echo.port, closed, closed + 1)
        conf = ["auth = none", deny2, deny_name, allow]
        with sgtest.Daemon(conf, loopback_targets=False) as d:
            expect(d, "127.0.0.1", echo.port, 0x00)
            expect(d, "localhost", echo.port, 0x00)
            expect(d, "127.0.0.2", echo2.port, 0x02)
            expect(d, "127.0.0.1", closed, 0x05)	# allowed by the range, then refused
            # Not named by any rule: the default policy refuses loopback.
            expect(d, "127.0.0.1", echo2.port, 0x02)
            # Names: the suffix and the exact name, case and trailing dot ignored.
            expect(d, "www.Blocked.TEST.", 80, 0x02)
            expect(d, "exact.test", 80, 0x02)

            d.wait_log(r"session \d+ ", count=7)
            recs = sorted(d.sessions(), key=lambda r: r["id"])
            line = "%s:%d" % (d.conf, d.line_of(deny2))
            assert recs[2]["reason"] == "refused by rule " + line, recs[2]
            assert recs[2]["reply"].startswith("0x02"), recs[2]
            assert recs[2]["addr"] == "127.0.0.2:%d" % echo2.port, recs[2]
            assert recs[3]["reply"].startswith("0x05"), recs[3]
            assert recs[4]["reason"] == \
                "refused by the built-in default policy (loopback destination)", recs[4]
            name_line = "refused by rule %s:%d" % (d.conf, d.line_of(deny_name))
            for r in recs[5:7]:
                assert r["reason"] == name_line, r
                # Refused as a name: never resolved, so no address was tried.
                assert r["addr"] == "-", r
            for r in recs[:2]:
                assert r["reply"].startswith("0x00") and r["reason"] is None, r


sgtest.main(test)
