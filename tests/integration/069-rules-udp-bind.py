#!/usr/bin/python3
"""The access rules hold for every UDP datagram and every BIND peer, not only
for CONNECT: under the built-in default a datagram to a loopback echo server
is dropped (and counted) while the association goes on; an explicit rule for
one port lets that port through and no other; a name rule refuses datagrams
sent by name even though the address would be allowed; a BIND peer that the
rules refuse gets reply 0x02; a rule that refuses the UDP or BIND command
outright answers the request itself with 0x02."""
import re
import socket

import sgcmds
import sgtest
from sgcmds import recv_dgram, udp_header


def udp_record(d, n):
    d.wait_log(r"session \d+ .*cmd=udp", count=n)
    return [r for r in d.sessions() if r["cmd"] == "udp"][-1]


def test_udp_default_policy():
    with sgcmds.UdpEcho() as echo, sgtest.Daemon(["auth = none"],
                                                 loopback_targets=False) as d:
        cl = sgcmds.udp_socket()
        ctl, relay = sgcmds.associate(d)
        cl.sendto(udp_header("127.0.0.1", echo.port) + b"to loopback", relay)
        assert recv_dgram(cl, 0.7) is None, "a datagram to loopback was relayed"
        assert echo.count() == 0, "the refused datagram reached the target"
        ctl.close()
        rec = udp_record(d, 1)
        assert int(rec["dgrams_dropped"]) == 1 and int(rec["dgrams_up"]) == 0, rec


def test_udp_port_rule():
    with sgcmds.UdpEcho() as allowed, sgcmds.UdpEcho() as other:
        conf = ["auth = none", "allow to 127.0.0.0/8 port %d" % allowed.port]
        with sgtest.Daemon(conf, loopback_targets=False) as d:
            cl = sgcmds.udp_socket()
            ctl, relay = sgcmds.associate(d)
            cl.sendto(udp_header("127.0.0.1", allowed.port) + b"ok", relay)
            got = recv_dgram(cl)
            assert got is not None and got[0].endswith(b"ok"), got
            cl.sendto(udp_header("127.0.0.1", other.port) + b"no", relay)
            assert recv_dgram(cl, 0.7) is None, "a datagram to a refused port was relayed"
            assert other.count() == 0
            ctl.close()
            rec = udp_record(d, 1)
            assert (int(rec["dgrams_up"]), int(rec["dgrams_dropped"])) == (1, 1), rec


def test_udp_name_rule():
    if socket.getaddrinfo("localhost", None, 0, socket.SOCK_DGRAM)[0][4][0] != "127.0.0.1":
        sgtest.log("localhost is not 127.0.0.1 first here: name rule case skipped")
        return
    with sgcmds.UdpEcho() as echo:
        conf = ["auth = none", "deny to localhost", "allow to 127.0.0.0/8"]
        with sgtest.Daemon(conf, loopback_targets=False) as d:
            cl = sgcmds.udp_socket()
            ctl, relay = sgcmds.associate(d)
            cl.sendto(udp_header("localhost", echo.port) + b"by name", relay)
            assert recv_dgram(cl, 0.7) is None, "a datagram to a denied name was relayed"
            cl.sendto(udp_header("127.0.0.1", echo.port) + b"by address", relay)
            got = recv_dgram(cl)
            assert got is not None and got[0].endswith(b"by address"), got
            ctl.close()


def test_bind_peer_refused():
    # The client names 127.0.0.1 as the peer it expects; the rules refuse
    # loopback peers, so the connection that arrives is turned away with 0x02.
    with sgtest.Daemon(["auth = none"], loopback_targets=False) as d:
        s, rep, bh, bp = sgtest.socks_request(d, "127.0.0.1", 0, cmd=2)
        assert rep == 0, "first BIND reply 0x%02x" % rep
        peer = socket.create_connection((bh, bp), timeout=5)
        rep2, _, _ = sgtest.read_reply(s)
        assert rep2 == 0x02, "second BIND reply 0x%02x for a refused peer" % rep2
        assert sgtest.closed_by_peer(peer), "the refused peer was not closed"
        peer.close()
        s.close()
        d.wait_log(r"session \d+ .*cmd=bind .*reply=0x02")
        rec = d.last_session()
        assert re.search(r"inbound connection from 127\.0\.0\.1:\d+ refused by the built-in "
                         r"default policy", rec["reason"]), rec

    # A rule that refuses the peer is named by FILE:LINE.
    with sgtest.Daemon(["auth = none", "deny to 127.0.0.2"]) as d:
        s, rep, bh, bp = sgtest.socks_request(d, "127.0.0.2", 0, cmd=2)
        assert rep == 0, "first BIND reply 0x%02x" % rep
        with socket.create_connection((bh, bp), timeout=5,
                                      source_address=("127.0.0.2", 0)) as peer:
            rep2, _, _ = sgtest.read_reply(s)
            assert rep2 == 0x02, rep2
        s.close()
        d.wait_log(r"session \d+ .*cmd=bind .*reply=0x02")
        rec = d.last_session()
        where = "%s:%d" % (d.conf, d.line_of("deny to 127.0.0.2"))
        assert "refused by rule " + where in rec["reason"], (where, rec)


def test_command_rules():
    # "deny command udp" refuses the association itself (0x02) instead of
    # opening a relay whose every datagram would be dropped; BIND likewise.
    conf = ["auth = none", "deny command udp,bind"]
    with sgtest.echo_server() as echo, sgtest.Daemon(conf) as d:
        for cmd in (3, 2):
            s, rep, _, _ = sgtest.socks_request(d, "0.0.0.0", 0, cmd=cmd)
            assert rep == 0x02, "command %d: reply 0x%02x" % (cmd, rep)
            s.close()
        d.wait_log(r"session \d+ .*cmd=udp .*reply=0x02.*refused by rule %s:%d" %
                   (d.conf.replace(".", r"\."), d.line_of("deny command udp,bind")))
        d.wait_log(r"session \d+ .*cmd=bind .*reply=0x02")
        s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port)
        assert rep == 0, "CONNECT was refused by a udp/bind rule: 0x%02x" % rep
        s.close()


def test():
    test_command_rules()
    test_udp_default_policy()
    test_udp_port_rule()
    test_udp_name_rule()
    test_bind_peer_refused()


sgtest.main(test)
