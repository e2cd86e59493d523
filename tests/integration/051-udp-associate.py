#!/usr/bin/python3
"""UDP ASSOCIATE with raw clients, with auth = none and with PAM: datagrams to
an IPv4 and a domain-name ("localhost") echo target come back with the
target's address in the header; fragments (FRAG != 0), malformed headers,
datagrams from another source port of the client's host and datagrams from
addresses the client never sent to are dropped and counted; the session
record carries exact datagram and byte counts; once the TCP connection
closes, nothing is relayed and the relay port is closed (ICMP port
unreachable). IPv6 client and target when ::1 is available. A drain ends a
live association promptly."""
import os
import signal
import socket
import time

import sgcmds
import sgtest
from sgcmds import parse_udp, recv_dgram, udp_header


def round_trip(cl, relay, host, port, payload, want_host):
    cl.sendto(udp_header(host, port) + payload, relay)
    got = recv_dgram(cl)
    assert got is not None, "no answer for %d bytes to %s:%d" % (len(payload), host, port)
    data, src = got
    assert src[:2] == relay, "answer from %r, relay is %r" % (src, relay)
    h, p, body = parse_udp(data)
    assert (h, p) == (want_host, port), "header names %s:%d, expected %s:%d" % (
        h, p, want_host, port)
    assert body == payload, "payload differs (%d vs %d bytes)" % (len(body), len(payload))


def nothing_comes(sock, echo, before, wait=0.5):
    """The echo server saw no new datagram and sock got nothing."""
    got = recv_dgram(sock, wait)
    assert got is None, "unexpected datagram %r" % (got,)
    assert echo.count() == before, "a dropped datagram reached the target"


def last_udp_record(d, n):
    d.wait_log(r"session \d+ .*cmd=udp", count=n)
    return [r for r in d.sessions() if r["cmd"] == "udp"][-1]


def check_record(rec, up, down, dropped, bytes_up, bytes_down, user="-"):
    want = {"dgrams_up": up, "dgrams_down": down, "dgrams_dropped": dropped,
            "up": bytes_up, "down": bytes_down}
    got = {k: int(rec[k]) for k in want}
    assert got == want, "record %r, expected %r" % (rec, want)
    assert rec["reply"].startswith("0x00") and rec["user"] == user, rec


def test_mode(mode, conf, env, creds):
    user = creds.get("user") or "-"
    with sgcmds.UdpEcho() as echo, sgtest.Daemon(conf, env=env) as d:
        # The client names no address: the first datagram fixes its port.
        cl = sgcmds.udp_socket()
        ctl, relay = sgcmds.associate(d, creds=creds)
        assert relay[0] == "127.0.0.1", relay
        sizes = (1, 0, 1400, 30000)
        for n in sizes:
            round_trip(cl, relay, "127.0.0.1", echo.port, os.urandom(n), "127.0.0.1")
        up = down = len(sizes)
        nbytes = sum(sizes)

        # A name, resolved by the gateway.
        lh = socket.getaddrinfo("localhost", None, 0, socket.SOCK_DGRAM)[0][4][0]
        if lh == "127.0.0.1":
            round_trip(cl, relay, "localhost", echo.port, b"by name", "127.0.0.1")
            round_trip(cl, relay, "localhost", echo.port, b"cached", "127.0.0.1")
            up += 2
            down += 2
            nbytes += 13
        else:
            sgtest.log("localhost is %s here: name case skipped" % lh)

        dropped = 0
        before = echo.count()
        # Fragments, malformed headers, an unknown address type: dropped.
        for junk in (udp_header("127.0.0.1", echo.port, frag=1) + b"frag 1",
                     udp_header("127.0.0.1", echo.port, frag=0x81) + b"frag 0x81",
                     b"\x00\x01\x00" + sgtest.encode_addr("127.0.0.1", echo.port) + b"rsv",
                     b"\x00\x00\x00\x01\x7f\x00",
                     b"\x00\x00\x00\x03\x40short",
                     b"\x00\x00\x00\x05" + b"\x00" * 20,
                     b""):
            cl.sendto(junk, relay)
            dropped += 1
        nothing_comes(cl, echo, before)

        # Another source port on the client's host: dropped.
        other = sgcmds.udp_socket()
        other.sendto(udp_header("127.0.0.1", echo.port) + b"intruder", relay)
        dropped += 1
        nothing_comes(other, echo, before)
        other.close()

        # A datagram into the relay's outgoing socket from an address the
        # client never sent to: dropped, the client hears nothing.
        out_addr = echo.got[-1][1]
        stranger = sgcmds.udp_socket()
        stranger.sendto(b"unsolicited", out_addr)
        dropped += 1
        nothing_comes(cl, echo, before)
        stranger.close()

        # The association is still alive after all that.
        round_trip(cl, relay, "127.0.0.1", echo.port, b"still here", "127.0.0.1")
        up += 1
        down += 1
        nbytes += 10

        # The TCP connection closes: the association ends at once.
        ctl.close()
        rec = last_udp_record(d, 1)
        check_record(rec, up, down, dropped, nbytes, nbytes, user)
        sgtest.log("%s: record %r" % (mode, rec))
        before = echo.count()
        cl.sendto(udp_header("127.0.0.1", echo.port) + b"after close", relay)
        nothing_comes(cl, echo, before)
        assert sgcmds.port_refused(*relay), "relay port still open after the close"
        cl.close()

        # The client names its port: another port on its host is dropped even first.
        cl = sgcmds.udp_socket()
        other = sgcmds.udp_socket()
        ctl, relay = sgcmds.associate(d, "127.0.0.1", cl.getsockname()[1], creds)
        before = echo.count()
        other.sendto(udp_header("127.0.0.1", echo.port) + b"first but wrong", relay)
        nothing_comes(other, echo, before)
        round_trip(cl, relay, "127.0.0.1", echo.port, b"named port", "127.0.0.1")
        ctl.close()
        rec = last_udp_record(d, 2)
        check_record(rec, 1, 1, 1, 10, 10, user)
        cl.close()
        other.close()


def test_ipv6():
    if not sgtest.have_ipv6():
        sgtest.log("no ::1 here: IPv6 part skipped")
        return
    with sgcmds.UdpEcho("::1") as echo6, sgcmds.UdpEcho() as echo4, \
            sgtest.Daemon(["auth = none"], host="::1") as d:
        cl = sgcmds.udp_socket("::1")
        ctl, relay = sgcmds.associate(d, "::", 0)
        assert relay[0] == "::1", "IPv6 client got relay %r" % (relay,)
        round_trip(cl, relay, "::1", echo6.port, b"six", "::1")
        # The relay reaches IPv4 targets too, from its own IPv4 socket.
        round_trip(cl, relay, "127.0.0.1", echo4.port, b"four", "127.0.0.1")
        ctl.close()
        rec = last_udp_record(d, 1)
        check_record(rec, 2, 2, 0, 7, 7)
        assert sgcmds.port_refused(*relay), "IPv6 relay port still open after the close"
        cl.close()


def test_drain_and_idle():
    with sgcmds.UdpEcho() as echo, sgtest.Daemon(["auth = none", "drain_timeout = 1s",
                                                 "udp_idle_timeout = 1s"]) as d:
        # Idle: nothing relayed for a second ends the association.
        cl = sgcmds.udp_socket()
        ctl, relay = sgcmds.associate(d)
        round_trip(cl, relay, "127.0.0.1", echo.port, b"x", "127.0.0.1")
        assert sgtest.closed_by_peer(ctl, 5), "idle association kept its control connection"
        rec = last_udp_record(d, 1)
        assert rec["reason"] == "udp idle timeout", rec
        ctl.close()
        assert sgcmds.port_refused(*relay)

        ctl, relay = sgcmds.associate(d)
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        # Traffic keeps the association from going idle while the drain runs.
        while d.proc.poll() is None and time.monotonic() - t0 < 5:
            cl.sendto(udp_header("127.0.0.1", echo.port) + b"y", relay)
            time.sleep(0.2)
        rc = d.proc.wait(10)
        took = time.monotonic() - t0
        assert rc == 0 and took < 4, "drain with a live association: rc %d after %.2fs" % (
            rc, took)
        assert sgtest.closed_by_peer(ctl)
        ctl.close()
        cl.close()
        sgtest.log("drain ended a live association in %.2fs" % took)


def test():
    for mode, conf, env, creds in sgcmds.auth_modes():
        test_mode(mode, conf, env, creds)
    test_ipv6()
    test_drain_and_idle()


sgtest.main(test)
