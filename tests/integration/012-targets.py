#!/usr/bin/python3
"""CONNECT with each address type, by a hand-written client: IPv4 (127.0.0.1),
IPv6 (::1, when loopback has IPv6) and a domain name ("localhost") all get
reply 0x00 whose BND.ADDR:BND.PORT is the gateway's outgoing address as the
target sees it, and data flows both ways. A client that pipelines greeting,
request and payload in one send() gets its payload delivered, and a client
that dribbles its handshake one byte at a time is served too."""
import ipaddress
import os
import queue
import socket
import time

import sgtest


class RecordingEcho(sgtest.Server):
    """An echo server that records the peer address of each connection and
    everything it received on it."""

    def __init__(self, host):
        self.peers = queue.Queue()
        super().__init__(self._handle, host)

    def _handle(self, c):
        peer = c.getpeername()
        got = bytearray()
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                got += d
                c.sendall(d)
        finally:
            self.peers.put((peer[0], peer[1], bytes(got)))

    def next_peer(self, timeout=10):
        return self.peers.get(timeout=timeout)


def norm(host):
    return str(ipaddress.ip_address(host))


def check_target(d, srv, host, seq):
    s, rep, bh, bp = sgtest.socks_request(d, host, srv.port)
    assert rep == 0, "%s: reply 0x%02x" % (host, rep)
    data = os.urandom(100000) + seq.encode()
    s.sendall(data)
    back = sgtest.recv_exact(s, len(data))
    assert back == data, "%s: echo differs" % host
    s.close()
    phost, pport, got = srv.next_peer()
    assert got == data, "%s: target received %d bytes, not the %d sent" % (host, len(got),
                                                                            len(data))
    assert (norm(bh), bp) == (norm(phost), pport), \
        "%s: BND %s:%d but the target saw the gateway as %s:%d" % (host, bh, bp, phost, pport)
    sgtest.log("%s: ok, bound %s:%d" % (host, bh, bp))


def test():
    with sgtest.Daemon(["auth = none"]) as d:
        nrec = 0
        with RecordingEcho("127.0.0.1") as v4:
            check_target(d, v4, "127.0.0.1", "v4")
            check_target(d, v4, "localhost", "name")
            nrec += 2
            expect = [("127.0.0.1:%d" % v4.port, "127.0.0.1:%d" % v4.port),
                      ("localhost:%d" % v4.port, "127.0.0.1:%d" % v4.port)]

            if sgtest.have_ipv6():
                with RecordingEcho("::1") as v6:
                    check_target(d, v6, "::1", "v6")
                    nrec += 1
                    expect.append(("[::1]:%d" % v6.port, "[::1]:%d" % v6.port))
            else:
                sgtest.log("no IPv6 on loopback: skipping the IPv6 target")

            # Pipelined: greeting, request and payload in one segment.
            payload = b"pipelined payload " + os.urandom(3000)
            s = sgtest.connect_proxy(d)
            s.sendall(b"\x05\x01\x00" + b"\x05\x01\x00" + sgtest.encode_addr("127.0.0.1", v4.port)
                      + payload)
            assert sgtest.recv_exact(s, 2) == b"\x05\x00"
            rep, bh, bp = sgtest.read_reply(s)
            assert rep == 0, "pipelined: reply 0x%02x" % rep
            assert sgtest.recv_exact(s, len(payload)) == payload, "pipelined: echo differs"
            s.shutdown(socket.SHUT_WR)
            assert sgtest.recv_all(s, 10) == b"", "pipelined: bytes after the echo"
            s.close()
            phost, pport, got = v4.next_peer()
            assert got == payload, "pipelined: target got %r..." % got[:40]
            assert (bh, bp) == (phost, pport), "pipelined: BND %s:%d vs %s:%d" % (bh, bp, phost,
                                                                                  pport)
            nrec += 1
            expect.append(("127.0.0.1:%d" % v4.port, "127.0.0.1:%d" % v4.port))

            # Dribbled: every handshake byte in its own segment.
            s = sgtest.connect_proxy(d)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            hello = b"\x05\x02\x00\x02"
            req = b"\x05\x01\x00" + sgtest.encode_addr("localhost", v4.port)
            for b in hello:
                s.send(bytes([b]))
                time.sleep(0.01)
            assert sgtest.recv_exact(s, 2) == b"\x05\x00", "dribbled: method"
            for b in req:
                s.send(bytes([b]))
                time.sleep(0.01)
            rep, bh, bp = sgtest.read_reply(s)
            assert rep == 0, "dribbled: reply 0x%02x" % rep
            s.sendall(b"dribbled")
            assert sgtest.recv_exact(s, 8) == b"dribbled"
            s.close()
            phost, pport, got = v4.next_peer()
            assert got == b"dribbled", got
            assert (bh, bp) == (phost, pport)
            nrec += 1
            expect.append(("localhost:%d" % v4.port, "127.0.0.1:%d" % v4.port))

        d.wait_log(r"session \d+ ", count=nrec)
        recs = sorted(d.sessions(), key=lambda r: r["id"])
        assert len(recs) == nrec, recs
        for rec, (dest, addr) in zip(recs, expect):
            assert rec["reply"].startswith("0x00"), rec
            assert rec["dest"] == dest and rec["addr"] == addr, (rec, dest, addr)


sgtest.main(test)
