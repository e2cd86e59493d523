#!/usr/bin/python3
"""handshake_timeout = 1s: 200 clients connect and say nothing; meanwhile a
normal client is served promptly; each silent client is closed by the gateway
after the timeout (not before, and within a few seconds of it), and its record
says handshake timeout. A client that sends one byte of its greeting is closed
after the timeout too."""
import re
import select
import selectors
import time

import sgtest

N = 200
TIMEOUT = 1.0
SLACK = 3.0


def test():
    with sgtest.echo_server() as echo, sgtest.Daemon(["auth = none",
                                                       "handshake_timeout = 1s"]) as d:
        opened = {}
        t_first = time.monotonic()
        for _ in range(N):
            s = sgtest.connect_proxy(d)
            opened[s] = time.monotonic()
        partial = sgtest.connect_proxy(d)
        partial.sendall(b"\x05")
        opened[partial] = time.monotonic()
        # The acceptor takes them in (fast, except in slow builds like TSan's);
        # by then each has a worker blocked in its handshake.
        lag = sgtest.wait_accepted(d)
        all_in = time.monotonic()

        # A normal client is served while those hold their handshakes open.
        t0 = time.monotonic()
        s = sgtest.connect_proxy(d)
        assert sgtest.greet(s) == 0
        t1 = time.monotonic()
        s.sendall(b"\x05\x01\x00" + sgtest.encode_addr("127.0.0.1", echo.port))
        rep, _, _ = sgtest.read_reply(s)
        assert rep == 0, "reply 0x%02x" % rep
        s.sendall(b"ping")
        assert sgtest.recv_exact(s, 4) == b"ping"
        t2 = time.monotonic()
        s.close()
        probe = select.poll()
        for c in opened:
            probe.register(c, select.POLLIN)
        gone = len(probe.poll(0))
        sgtest.log("accepted %d in %.3fs; normal client served in %.3fs (method after %.3fs); "
                   "%d silent ones closed by then" % (N + 1, all_in - t_first, t2 - t0, t1 - t0,
                                                       gone))
        assert t2 - t0 < TIMEOUT, "normal client needed %.2fs while %d were silent" % (
            t2 - t0, N)
        if all_in - t_first < TIMEOUT / 2:
            # Had the silent ones starved the pool, it would have been served
            # only once their timeout freed a worker.
            assert gone == 0, "normal client served only after %d silent ones closed" % gone

        # Every silent one is closed by the gateway, after the timeout.
        sel = selectors.DefaultSelector()
        for c in opened:
            c.setblocking(False)
            sel.register(c, selectors.EVENT_READ)
        closed = {}
        junk = []
        end = all_in + TIMEOUT + SLACK
        while len(closed) < len(opened) and time.monotonic() < end:
            for key, _ in sel.select(max(0.01, end - time.monotonic())):
                c = key.fileobj
                try:
                    data = c.recv(4096)
                except (ConnectionResetError, BrokenPipeError):
                    data = b""
                except BlockingIOError:
                    continue
                if data:
                    junk.append(data)
                    continue
                closed[c] = time.monotonic()
                sel.unregister(c)
        sel.close()
        assert not junk, "silent clients were sent %r" % junk[:3]
        assert len(closed) == len(opened), "%d of %d idle handshakes still open %.0fs after " \
            "the timeout" % (len(opened) - len(closed), len(opened), TIMEOUT + SLACK)
        early = [closed[c] - opened[c] for c in closed if closed[c] - opened[c] < TIMEOUT - 0.1]
        assert not early, "closed before the handshake timeout: %r" % early[:5]
        assert partial in closed
        sgtest.log("all %d closed; the last %.2fs after the first connect (accept lag %.2fs)"
                   % (len(closed), max(closed.values()) - t_first, lag))
        for c in opened:
            c.close()

        d.wait_log(r"session \d+ ", count=N + 2)
        recs = d.sessions()
        assert len(recs) == N + 2, "%d records" % len(recs)
        timeouts = [r for r in recs if r["reason"] and "handshake timeout" in r["reason"]]
        assert len(timeouts) == N + 1, "%d records say handshake timeout: %r" % (
            len(timeouts), [r for r in recs if r not in timeouts][:3])
        ok = [r for r in recs if r not in timeouts]
        assert len(ok) == 1 and ok[0]["reply"].startswith("0x00"), ok
        for r in timeouts:
            assert r["reply"] == "-" and r["cmd"] == "-", r
            # Timed by the daemon from accept to close.
            secs = float(re.match(r"([\d.]+)s", r["duration"]).group(1))
            assert TIMEOUT - 0.05 <= secs <= TIMEOUT + SLACK, "handshake closed after %.3fs: %r" \
                % (secs, r)


sgtest.main(test)
