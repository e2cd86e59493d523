#!/usr/bin/python3
"""64 MiB each way at the same time through one session: the client sends
while it receives, the target likewise; both streams arrive with the right
SHA-256 and the session record counts exactly 64 MiB up and 64 MiB down."""
import hashlib
import os
import queue
import socket
import threading

import sgtest

SIZE = 64 * 1024 * 1024
CHUNK = 256 * 1024


def make_data(seed):
    # Random but cheap: 1 MiB of urandom, each copy salted with its index.
    block = os.urandom(1024 * 1024)
    out = bytearray()
    i = 0
    while len(out) < SIZE:
        out += hashlib.sha256(seed + i.to_bytes(4, "big")).digest() + block[32:]
        i += 1
    return bytes(out[:SIZE])


def send_then_shut(sock, data, errs):
    try:
        mv = memoryview(data)
        for off in range(0, len(data), CHUNK):
            sock.sendall(mv[off:off + CHUNK])
        sock.shutdown(socket.SHUT_WR)
    except BaseException as e:
        errs.append(e)


def hash_until_eof(sock, timeout=60):
    sock.settimeout(timeout)
    h = hashlib.sha256()
    n = 0
    while True:
        d = sock.recv(1 << 20)
        if not d:
            return n, h.hexdigest()
        n += len(d)
        h.update(d)


def test():
    up = make_data(b"up")
    down = make_data(b"down")
    target_result = queue.Queue()

    def target(c):
        errs = []
        t = threading.Thread(target=send_then_shut, args=(c, down, errs), daemon=True)
        t.start()
        res = hash_until_eof(c)
        t.join(60)
        target_result.put((res, errs, t.is_alive()))

    with sgtest.Server(target) as srv, sgtest.Daemon(["auth = none"]) as d:
        s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", srv.port)
        assert rep == 0, "reply 0x%02x" % rep
        errs = []
        t = threading.Thread(target=send_then_shut, args=(s, up, errs), daemon=True)
        t.start()
        n, digest = hash_until_eof(s)
        t.join(60)
        assert not t.is_alive() and not errs, "client sender: %r" % errs
        s.close()
        assert n == SIZE and digest == sgtest.sha256(down), \
            "client received %d bytes (want %d), checksum %s" % (
                n, SIZE, "ok" if digest == sgtest.sha256(down) else "differs")
        (tn, tdigest), terrs, alive = target_result.get(timeout=60)
        assert not alive and not terrs, "target sender: %r" % terrs
        assert tn == SIZE and tdigest == sgtest.sha256(up), \
            "target received %d bytes (want %d)" % (tn, SIZE)

        d.wait_log(r"session \d+ ", count=1)
        recs = d.sessions()
        assert len(recs) == 1, recs
        assert recs[0]["reply"].startswith("0x00"), recs[0]
        assert int(recs[0]["up"]) == SIZE and int(recs[0]["down"]) == SIZE, recs[0]


sgtest.main(test)
