#!/usr/bin/python3
"""workers_max = 2, queue_length = 1: with two sessions holding both workers,
one more connection waits in the queue and the rest are closed at once, with
a rate-limited warning. The established sessions keep relaying, the queued
client is served when a worker frees up, and so is a new one."""
import socket
import time

import sgtest

EXTRA = 20


def round_trip(s, data):
    s.sendall(data)
    assert sgtest.recv_exact(s, len(data), timeout=5) == data


def no_answer(s, timeout):
    """True when the gateway neither answers nor closes s within timeout."""
    s.settimeout(timeout)
    try:
        s.recv(16)
    except socket.timeout:
        return True
    except ConnectionError:
        pass
    return False


def test():
    conf = ["auth = none", "workers_min = 1", "workers_max = 2", "queue_length = 1",
            "handshake_timeout = 30s"]
    with sgtest.echo_server() as echo, sgtest.Daemon(conf) as d:
        # A burst no larger than the workers available is served whole: a
        # connection an idle (or startable) worker will take is not "waiting".
        for trial in range(3):
            burst = [sgtest.connect_proxy(d) for _ in range(2)]
            for c in burst:
                c.sendall(b"\x05\x01\x00")
            for i, c in enumerate(burst):
                try:
                    got = sgtest.recv_exact(c, 2, timeout=3)
                except (AssertionError, ConnectionError) as e:
                    raise AssertionError("burst %d: client %d of 2 refused with a worker "
                                         "free: %s\n%s" % (trial, i, e, d.log()))
                assert got == b"\x05\x00", got
            for c in burst:
                c.close()
            time.sleep(0.2)

        held = []
        for i in range(2):
            s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port)
            assert rep == 0, rep
            round_trip(s, b"held %d" % i)
            held.append(s)

        # This one fits the queue: it waits, neither served nor closed.
        queued = sgtest.connect_proxy(d)
        queued.sendall(b"\x05\x01\x00")
        assert no_answer(queued, 0.7), "the queued client was answered or closed"

        # The rest are closed by the gateway at once.
        t0 = time.monotonic()
        extra = []
        for _ in range(EXTRA):
            c = sgtest.connect_proxy(d)
            try:
                c.sendall(b"\x05\x01\x00")
            except (BrokenPipeError, ConnectionResetError):
                pass
            extra.append(c)
        for i, c in enumerate(extra):
            assert sgtest.closed_by_peer(c, timeout=3), "extra connection %d not closed" % i
            c.close()
        took = time.monotonic() - t0
        sgtest.log("%d connections refused in %.2f s" % (EXTRA, took))
        assert took < 3, took

        lines = d.wait_log(r"every worker is busy and the queue is full", timeout=3)
        assert 1 <= len(lines) <= 2, "%d warnings for %d refusals:\n%s" % (
            len(lines), EXTRA, d.log())

        # The established sessions still relay; the queued client still waits.
        for i, s in enumerate(held):
            round_trip(s, b"still relaying %d" % i)
        assert no_answer(queued, 0.3), "the queued client was answered or closed"

        # Free the workers: the queued client is served...
        for s in held:
            s.close()
        with queued:
            assert sgtest.recv_exact(queued, 2, timeout=5) == b"\x05\x00"
            queued.sendall(b"\x05\x01\x00" + sgtest.encode_addr("127.0.0.1", echo.port))
            rep, _, _ = sgtest.read_reply(queued)
            assert rep == 0, rep
            round_trip(queued, b"queued and served")

            # ... and so is a new client.
            s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port)
            with s:
                assert rep == 0, rep
                round_trip(s, b"new client")

        # Only the served connections reached a worker: the 6 of the bursts
        # (closed after the method reply), the 2 held, the queued and the new one.
        d.wait_log(r"session \d+ ", count=10, timeout=5)
        recs = d.sessions()
        assert len(recs) == 10, recs
        assert sum(1 for r in recs if r["reply"].startswith("0x00")) == 4, recs


sgtest.main(test)
