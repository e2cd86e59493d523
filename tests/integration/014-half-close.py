#!/usr/bin/python3
"""Half-close through the relay, both ways round. The client sends its request
and shuts down its write side; the target reads to EOF and only then answers
with 1 MiB, which the client receives whole, followed by EOF. And the other
way: the target shuts down its write side first, the client sees EOF but keeps
sending, and that later data still reaches the target. Then the same with a
slow reader on the receiving end of a large stream, so that the relay's
direction is full when the sender's FIN arrives after the other side has
half-closed: every byte must still arrive before EOF, both ways round."""
import os
import queue
import socket
import time

import sgtest

MIB = 1024 * 1024


def test():
    answer = os.urandom(MIB)
    request = os.urandom(200000)
    early = os.urandom(50000)
    late = os.urandom(300000)
    results = queue.Queue()

    def reply_after_eof(c):
        got = sgtest.recv_all(c, 20)
        results.put(("request", got))
        c.sendall(answer)

    def close_write_first(c):
        c.sendall(early)
        c.shutdown(socket.SHUT_WR)
        results.put(("later", sgtest.recv_all(c, 20)))

    with sgtest.Daemon(["auth = none"]) as d:
        # Client half-closes first.
        with sgtest.Server(reply_after_eof) as srv:
            s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", srv.port)
            assert rep == 0, "reply 0x%02x" % rep
            s.sendall(request)
            s.shutdown(socket.SHUT_WR)
            got = sgtest.recv_all(s, 20)   # ends at EOF
            s.close()
            what, seen = results.get(timeout=10)
            assert sgtest.sha256(seen) == sgtest.sha256(request), \
                "target got %d bytes of the %d-byte request" % (len(seen), len(request))
            assert len(got) == MIB and sgtest.sha256(got) == sgtest.sha256(answer), \
                "client got %d bytes, expected the 1 MiB answer" % len(got)
            sgtest.log("client-first half-close: ok")

        # Target half-closes first; the client keeps talking.
        with sgtest.Server(close_write_first) as srv:
            s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", srv.port)
            assert rep == 0, "reply 0x%02x" % rep
            s.sendall(late[:1000])
            got = sgtest.recv_all(s, 20)   # the target's data, then EOF
            assert got == early, "client got %d bytes before EOF, expected %d" % (len(got),
                                                                                 len(early))
            s.sendall(late[1000:])       # after EOF from the target
            s.shutdown(socket.SHUT_WR)
            assert sgtest.closed_by_peer(s, 10), "the gateway did not close at the end"
            s.close()
            what, seen = results.get(timeout=10)
            assert sgtest.sha256(seen) == sgtest.sha256(late), \
                "target got %d of the %d bytes sent (some after its half-close)" % (len(seen),
                                                                                    len(late))
            sgtest.log("target-first half-close: ok")

        d.wait_log(r"session \d+ ", count=2)
        recs = sorted(d.sessions(), key=lambda r: r["id"])
        assert len(recs) == 2, recs
        for rec in recs:
            assert rec["reply"].startswith("0x00"), rec
            assert rec["reason"] is None, rec
        assert (int(recs[0]["up"]), int(recs[0]["down"])) == (len(request), MIB), recs[0]
        assert (int(recs[1]["up"]), int(recs[1]["down"])) == (len(late), len(early)), recs[1]

        slow_reader_rounds(d)


BIG = 8 * MIB
ROUNDS = 3


def read_slowly(s, pause=0.5):
    """Lets the sender fill every buffer on the way, then reads to EOF."""
    time.sleep(pause)
    s.settimeout(30)
    buf = bytearray()
    while True:
        b = s.recv(8192)
        if not b:
            return bytes(buf)
        buf += b
        if len(buf) % (512 * 1024) < 8192:
            time.sleep(0.01)


def slow_reader_rounds(d):
    big = os.urandom(BIG)
    results = queue.Queue()

    def download_after_eof(c):
        sgtest.recv_all(c, 20)          # the request, to the client's FIN
        c.sendall(big)                  # FIN follows while the client reads slowly

    def upload_after_fin(c):
        c.sendall(b"OK")
        c.shutdown(socket.SHUT_WR)      # the target is done talking first
        results.put(read_slowly(c))

    for rnd in range(ROUNDS):
        with sgtest.Server(download_after_eof) as srv:
            s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", srv.port)
            assert rep == 0, rep
            s.sendall(b"GET\n")
            s.shutdown(socket.SHUT_WR)
            got = read_slowly(s)
            s.close()
            assert len(got) == BIG and sgtest.sha256(got) == sgtest.sha256(big), \
                "round %d: client got %d of %d bytes before EOF" % (rnd, len(got), BIG)
        with sgtest.Server(upload_after_fin) as srv:
            s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", srv.port)
            assert rep == 0, rep
            assert sgtest.recv_all(s, 20) == b"OK"
            s.sendall(big)
            s.shutdown(socket.SHUT_WR)
            seen = results.get(timeout=60)
            assert sgtest.closed_by_peer(s, 10), "the gateway did not close at the end"
            s.close()
            assert len(seen) == BIG and sgtest.sha256(seen) == sgtest.sha256(big), \
                "round %d: target got %d of %d bytes before EOF" % (rnd, len(seen), BIG)
    sgtest.log("slow readers after a half-close: %d rounds of %d MiB each way, whole" % (
        ROUNDS, BIG // MIB))


sgtest.main(test)
