#!/usr/bin/python3
"""A real client's UDP: python3-socks (socksocket SOCK_DGRAM) sends datagrams
through the gateway to a local echo server and reads the echoes, with
auth = none and with PAM username/password; each association is one
session record with its datagram counts."""
import os

import sgcmds
import sgtest


def test():
    try:
        import socks
    except ImportError:
        sgtest.skip("python3-socks is not installed")
    for mode, conf, env, creds in sgcmds.auth_modes():
        with sgcmds.UdpEcho() as echo, sgtest.Daemon(conf, env=env) as d:
            s = socks.socksocket(socks.socket.AF_INET, socks.socket.SOCK_DGRAM)
            s.set_proxy(socks.SOCKS5, d.host, d.port, username=creds.get("user"),
                        password=creds.get("password"))
            s.settimeout(10)
            payloads = [os.urandom(n) for n in (1, 100, 1400, 8000)]
            for p in payloads:
                s.sendto(p, ("127.0.0.1", echo.port))
                data, src = s.recvfrom(70000)
                assert data == p, "%s: echo of %d bytes differs" % (mode, len(p))
                assert src == ("127.0.0.1", echo.port), "%s: answer from %r" % (mode, src)
            s.close()
            d.wait_log(r"session \d+ .*cmd=udp")
            rec = d.last_session()
            total = sum(len(p) for p in payloads)
            assert rec["user"] == (creds.get("user") or "-"), rec
            assert int(rec["dgrams_up"]) == int(rec["dgrams_down"]) == len(payloads), rec
            assert int(rec["up"]) == int(rec["down"]) == total, rec
            assert int(rec["dgrams_dropped"]) == 0, rec
            sgtest.log("%s: python3-socks UDP, record %r" % (mode, rec))


sgtest.main(test)
