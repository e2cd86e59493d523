#!/usr/bin/python3
"""BIND (RFC 1928), with auth = none and with PAM: the first reply names a
listening address on loopback, the second the peer that connected, and data
then flows both ways with half-close; the peer may be restricted by DST.ADDR
(a peer from 127.0.0.1 when the client named 127.0.0.2 gets 0x02 and is
closed) and by a non-zero DST.PORT; a name ("localhost") names its addresses;
the client closing while waiting frees the port at once; bind_timeout gives
0x06; a drain ends a waiting BIND promptly. One session record per BIND."""
import os
import signal
import socket
import time

import sgcmds
import sgtest


def connect_from(port, src="127.0.0.1", src_port=0, host="127.0.0.1"):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    c.bind((src, src_port))
    c.settimeout(10)
    c.connect((host, port))
    return c


def refused(port, host="127.0.0.1"):
    try:
        connect_from(port, host=host).close()
    except ConnectionRefusedError:
        return True
    return False


def bind_request(d, host, port, creds):
    s, rep, bh, bp = sgtest.socks_request(d, host, port, cmd=2, **creds)
    assert rep == 0, "first BIND reply 0x%02x" % rep
    assert bh == "127.0.0.1" and bp != 0, "BND %s:%d" % (bh, bp)
    return s, bp


def both_ways(d, creds, name, host="127.0.0.1"):
    s, bp = bind_request(d, host, 0, creds)
    peer = connect_from(bp)
    rep, ph, pp = sgtest.read_reply(s)
    assert rep == 0, "%s: second reply 0x%02x" % (name, rep)
    assert (ph, pp) == peer.getsockname(), "%s: second reply names %s:%d, peer is %r" % (
        name, ph, pp, peer.getsockname())
    up, down = os.urandom(300000), os.urandom(200000)
    s.sendall(up)
    assert sgtest.recv_exact(peer, len(up)) == up, name
    peer.sendall(down)
    assert sgtest.recv_exact(s, len(down)) == down, name
    # Half-close passes through: the peer's EOF reaches the client, which can still send.
    peer.shutdown(socket.SHUT_WR)
    assert sgtest.recv_all(s, 10) == b"", name
    s.sendall(b"last words")
    s.shutdown(socket.SHUT_WR)
    assert sgtest.recv_all(peer, 10) == b"last words", name
    s.close()
    peer.close()
    return len(up) + len(b"last words"), len(down), "127.0.0.1:%d" % pp


def test_mode(mode, conf, env, creds):
    with sgtest.Daemon(conf + ["bind_timeout = 1s"], env=env) as d:
        n = 0
        up, down, addr = both_ways(d, creds, mode + " any peer")
        n += 1
        d.wait_log(r"session \d+ .*cmd=bind", count=n)
        rec = d.last_session()
        assert rec["cmd"] == "bind" and rec["reply"].startswith("0x00"), rec
        assert rec["addr"] == addr and rec["dest"] == "127.0.0.1:0", rec
        assert int(rec["up"]) == up and int(rec["down"]) == down, rec
        assert rec["reason"] is None, rec
        assert "dgrams_up" not in rec, rec
        assert rec["user"] == (creds.get("user") or "-"), rec
        sgtest.log("%s: BIND both ways, record %r" % (mode, rec))

        # A name stands for its addresses; localhost is 127.0.0.1 here.
        if socket.gethostbyname("localhost") == "127.0.0.1":
            both_ways(d, creds, mode + " localhost", host="localhost")
            n += 1

        # An IPv4-mapped IPv6 DST.ADDR is the IPv4 address it maps.
        both_ways(d, creds, mode + " v4-mapped", host="::ffff:127.0.0.1")
        n += 1

        # The wrong peer: refused with 0x02, and closed.
        s, bp = bind_request(d, "127.0.0.2", 0, creds)
        peer = connect_from(bp)
        rep, ph, _ = sgtest.read_reply(s)
        assert rep == 0x02, "%s: wrong peer got reply 0x%02x" % (mode, rep)
        assert sgtest.closed_by_peer(s), "control connection left open"
        assert sgtest.closed_by_peer(peer), "wrong peer left connected"
        s.close()
        peer.close()
        n += 1
        d.wait_log(r"session \d+ .*cmd=bind", count=n)
        rec = d.last_session()
        assert rec["reply"].startswith("0x02") and "not the requested peer" in rec["reason"], rec
        sgtest.log("%s: wrong peer refused: %s" % (mode, rec["reason"]))
        assert refused(bp), "BIND port still open after the refusal"

        # The named peer (127.0.0.2, bound on Linux loopback) is let in.
        s, bp = bind_request(d, "127.0.0.2", 0, creds)
        peer = connect_from(bp, src="127.0.0.2")
        rep, ph, _ = sgtest.read_reply(s)
        assert rep == 0 and ph == "127.0.0.2", (rep, ph)
        peer.sendall(b"from .2")
        assert sgtest.recv_exact(s, 7) == b"from .2"
        s.close()
        peer.close()
        n += 1

        # A non-zero DST.PORT: only that source port is the expected peer.
        want_port = sgtest.free_port()
        s, bp = bind_request(d, "127.0.0.1", want_port, creds)
        peer = connect_from(bp)
        rep, _, _ = sgtest.read_reply(s)
        assert rep == 0x02, "peer from another port got reply 0x%02x" % rep
        s.close()
        peer.close()
        n += 1
        s, bp = bind_request(d, "127.0.0.1", want_port, creds)
        peer = connect_from(bp, src_port=want_port)
        rep, _, pp = sgtest.read_reply(s)
        assert rep == 0 and pp == want_port, (rep, pp)
        s.close()
        peer.close()
        n += 1

        # The client leaves while waiting: the port is freed at once.
        s, bp = bind_request(d, "127.0.0.1", 0, creds)
        s.close()
        n += 1
        d.wait_log(r"session \d+ .*cmd=bind", count=n, timeout=5)
        rec = d.last_session()
        assert "client closed while waiting" in rec["reason"], rec
        assert refused(bp), "BIND port still open after the client left"

        # Nobody connects: 0x06 after bind_timeout = 1s, and the port is closed.
        s, bp = bind_request(d, "127.0.0.1", 0, creds)
        t0 = time.monotonic()
        rep, _, _ = sgtest.read_reply(s, timeout=10)
        took = time.monotonic() - t0
        assert rep == 0x06, "timeout reply 0x%02x" % rep
        assert 0.8 < took < 4, "0x06 after %.2fs with bind_timeout = 1s" % took
        assert sgtest.closed_by_peer(s)
        s.close()
        assert refused(bp), "BIND port still open after the timeout"
        n += 1
        d.wait_log(r"session \d+ .*cmd=bind", count=n)
        rec = d.last_session()
        assert rec["reply"].startswith("0x06") and "bind_timeout" in rec["reason"], rec

        # Data from the client before the peer came ends the wait with 0x01.
        s, bp = bind_request(d, "127.0.0.1", 0, creds)
        s.sendall(b"too early")
        rep, _, _ = sgtest.read_reply(s)
        assert rep == 0x01, "early data got reply 0x%02x" % rep
        s.close()
        assert refused(bp)
        n += 1
        d.wait_log(r"session \d+ .*cmd=bind", count=n)
        assert len([r for r in d.sessions() if r["cmd"] == "bind"]) == n, d.log()


def test_drain():
    with sgtest.Daemon(["auth = none", "drain_timeout = 1s", "bind_timeout = 1m"]) as d:
        s, bp = bind_request(d, "127.0.0.1", 0, {})
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        rc = d.proc.wait(10)
        took = time.monotonic() - t0
        assert rc == 0 and took < 4, "drain with a waiting BIND: rc %d after %.2fs" % (rc, took)
        assert sgtest.closed_by_peer(s)
        s.close()
        assert refused(bp)
        sgtest.log("drain ended a waiting BIND in %.2fs" % took)


def test():
    for mode, conf, env, creds in sgcmds.auth_modes():
        test_mode(mode, conf, env, creds)
    test_drain()


sgtest.main(test)
