#!/usr/bin/python3
"""Two socksgate instances behind one real HAProxy frontend (mode tcp,
balance leastconn, send-proxy-v2, check-send-proxy health checks): curl
clients bound to 127.0.0.5 and 127.0.0.7 reach both instances, and every
record names the real client with HAProxy as via=; HAProxy's health checks
reach the instances and leave no record; after a reload that adds a client
rule refusing 127.0.0.5, that client is refused and 127.0.0.7 still served.
UDP ASSOCIATE through HAProxy answers with the instance's external_address
and relays datagrams from the real client only (the balancer's address is
not the client's); BIND's first reply names the external address too."""
import re
import signal
import socket
import time

import sgcmds
import sgproxy
import sgtest

EXTERNAL = {"a": "127.0.0.31", "b": "127.0.0.32"}


def conf(name, extra=()):
    return ["auth = none", "allow_unauthenticated = yes", "log_level = debug",
            "external_address = %s" % EXTERNAL[name]] + list(extra)


def curl_ok(ha, web, source):
    rc, body = sgproxy.curl(ha.port, "http://127.0.0.1:%d/" % web.port, source=source)
    return rc == 0 and body == b"hello from the target\n"


def test_clients(ha, web, gws):
    for i in range(8):
        for src in ("127.0.0.5", "127.0.0.7"):
            assert curl_ok(ha, web, src), "curl from %s failed (round %d)" % (src, i)
    sgproxy.wait_records(gws.values(), 16)
    for name, d in gws.items():
        recs = d.sessions()
        assert recs, "instance %s got no session:\n%s" % (name, ha.log())
        for r in recs:
            assert r["via"].startswith("127.0.0.1:"), r
            assert r["reply"].startswith("0x00"), r
        assert set(sgproxy.clients_of(d)) <= {"127.0.0.5", "127.0.0.7"}, d.log()
    total = sum(len(d.sessions()) for d in gws.values())
    assert total == 16, "%d records for 16 sessions" % total


def test_health_checks(gws):
    before = {n: len(d.sessions()) for n, d in gws.items()}
    for d in gws.values():
        d.wait_log(r"health check from 127\.0\.0\.1:\d+ \(PROXY protocol LOCAL\)", count=5)
    for n, d in gws.items():
        assert len(d.sessions()) == before[n], "health checks left records:\n" + d.log()


def test_rule(ha, web, gws):
    n = {name: len(d.sessions()) for name, d in gws.items()}
    for name, d in gws.items():
        d.rewrite(conf(name, ["deny from 127.0.0.5"]), loopback_targets=True)
        d.signal(signal.SIGHUP)
    for d in gws.values():
        d.wait_log(r"configuration reloaded")
    for _ in range(4):
        assert not curl_ok(ha, web, "127.0.0.5"), "127.0.0.5 served despite the rule"
        assert curl_ok(ha, web, "127.0.0.7"), "127.0.0.7 refused"
    sgproxy.wait_records(gws.values(), sum(n.values()) + 4)
    refused = 0
    for name, d in gws.items():
        refused += len(re.findall(r"closing connection from 127\.0\.0\.5: refused by client rule",
                                  d.log()))
        new = d.sessions()[n[name]:]
        assert all(r["client"].startswith("127.0.0.7:") for r in new), new
    assert refused >= 1, "no refusal logged"
    sgproxy.wait_records(gws.values(), sum(n.values()) + 4)
    assert sum(len(d.sessions()) - n[k] for k, d in gws.items()) == 4


def test_udp(ha, gws):
    with sgcmds.UdpEcho() as echo:
        ctl = socket.socket()
        ctl.bind(("127.0.0.5", 0))
        ctl.settimeout(10)
        ctl.connect(("127.0.0.1", ha.port))
        ctl.sendall(b"\x05\x01\x00")
        assert sgtest.recv_exact(ctl, 2) == b"\x05\x00"
        ctl.sendall(b"\x05\x03\x00" + sgtest.encode_addr("0.0.0.0", 0))
        rep, host, port = sgtest.read_reply(ctl)
        assert rep == 0, rep
        owner = [n for n, a in EXTERNAL.items() if a == host]
        assert owner, "BND.ADDR %s is no instance's external_address" % host
        # The instance is NAT'd: its external address arrives at the address
        # it listens on, where the relay socket is; send there, as NAT would.
        relay = ("127.0.0.1", port)
        with sgcmds.udp_socket("127.0.0.5") as cl, sgcmds.udp_socket("127.0.0.1") as lb:
            lb.sendto(sgcmds.udp_header("127.0.0.1", echo.port) + b"from the balancer", relay)
            assert sgcmds.recv_dgram(lb, 0.5) is None, "the balancer's datagram was relayed"
            cl.sendto(sgcmds.udp_header("127.0.0.1", echo.port) + b"from the client", relay)
            got = sgcmds.recv_dgram(cl)
            assert got is not None, "no answer for the real client"
            assert sgcmds.parse_udp(got[0]) == ("127.0.0.1", echo.port, b"from the client"), got
        assert echo.count() == 1, echo.got
        ctl.close()
        d = gws[owner[0]]
        d.wait_log(r"session \d+ .*cmd=udp")
        rec = [r for r in d.sessions() if r["cmd"] == "udp"][-1]
        assert rec["client"].startswith("127.0.0.5:"), rec
        assert (rec["dgrams_up"], rec["dgrams_down"], rec["dgrams_dropped"]) == ("1", "1", "1"), \
            rec


def test_bind(ha, gws):
    """BIND's first reply names the instance's external address; the peer
    reaches the listener through the (simulated) NAT; the second reply names
    the peer as it is."""
    ctl = socket.create_connection(("127.0.0.1", ha.port), timeout=10)
    with ctl:
        ctl.sendall(b"\x05\x01\x00")
        assert sgtest.recv_exact(ctl, 2) == b"\x05\x00"
        ctl.sendall(b"\x05\x02\x00" + sgtest.encode_addr("127.0.0.1", 0))
        rep, host, port = sgtest.read_reply(ctl)
        assert rep == 0 and host in EXTERNAL.values() and port != 0, (rep, host, port)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as peer:
            rep, ph, pp = sgtest.read_reply(ctl)
            assert rep == 0 and (ph, pp) == peer.getsockname(), (rep, ph, pp)
            peer.sendall(b"inbound")
            assert sgtest.recv_exact(ctl, 7) == b"inbound"
    # Its record, before the next test counts records.
    deadline = time.monotonic() + 10
    while not any("cmd=bind" in d.log() for d in gws.values()):
        assert time.monotonic() < deadline, "no record of the BIND session"
        time.sleep(0.02)


def test():
    sgproxy.require_haproxy()
    with sgproxy.http_server() as web, sgproxy.proxy_daemon(conf("a")) as a, \
            sgproxy.proxy_daemon(conf("b")) as b:
        gws = {"a": a, "b": b}
        t0 = time.monotonic()
        with sgproxy.HAProxy([("a", a.port), ("b", b.port)]) as ha:
            test_clients(ha, web, gws)
            test_health_checks(gws)
            test_udp(ha, gws)
            test_bind(ha, gws)
            test_rule(ha, web, gws)
        sgtest.log("HAProxy part took %.1fs" % (time.monotonic() - t0))


sgtest.main(test)
