#!/usr/bin/python3
"""200 sessions at once: 200 client threads hold their sessions open together
(a barrier after the handshake), each sends its own data through an echo
target and gets exactly that data back; then 200 session records, all with
reply 0x00 and the right byte counts. Bounded in time."""
import os
import threading
import time

import sgtest

N = 200
PER_SESSION = 20000
DEADLINE = 30


def test():
    results = [None] * N
    barrier = threading.Barrier(N + 1)

    def client(i, d, port):
        try:
            s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", port, timeout=DEADLINE)
            assert rep == 0, "reply 0x%02x" % rep
            barrier.wait(DEADLINE)          # every session is open now
            data = (b"%05d" % i) + os.urandom(PER_SESSION - 5)
            s.sendall(data)
            back = sgtest.recv_exact(s, len(data), timeout=DEADLINE)
            assert back == data, "echo differs"
            s.close()
            results[i] = True
        except BaseException as e:  # collected by the main thread
            results[i] = e
            barrier.abort()

    with sgtest.echo_server() as echo, sgtest.Daemon(["auth = none"]) as d:
        t0 = time.monotonic()
        threads = [threading.Thread(target=client, args=(i, d, echo.port), daemon=True)
                   for i in range(N)]
        for t in threads:
            t.start()
        try:
            barrier.wait(DEADLINE)
        except threading.BrokenBarrierError:
            pass
        for t in threads:
            t.join(max(1, DEADLINE - (time.monotonic() - t0)))
        stuck = sum(t.is_alive() for t in threads)
        bad = [(i, r) for i, r in enumerate(results) if r is not True]
        assert stuck == 0, "%d clients still running after %ds" % (stuck, DEADLINE)
        assert not bad, "%d clients failed, first: %r" % (len(bad), bad[:3])
        sgtest.log("%d concurrent round trips in %.2fs" % (N, time.monotonic() - t0))

        d.wait_log(r"session \d+ ", count=N, timeout=DEADLINE)
        recs = d.sessions()
        assert len(recs) == N, "%d session records" % len(recs)
        assert len({r["id"] for r in recs}) == N, "session ids repeat"
        for r in recs:
            assert r["reply"].startswith("0x00"), r
            assert int(r["up"]) == PER_SESSION and int(r["down"]) == PER_SESSION, r


sgtest.main(test)
