#!/usr/bin/python3
"""Per-client-address limits close a connection before the handshake, with a
rate-limited log line, while other clients go on: max_sessions_per_client
(two live sessions from 127.0.0.1, the third is closed, 127.0.0.3 is served,
and after one ends 127.0.0.1 may open another) and max_connection_rate (a
burst of connections from 127.0.0.4 is cut, 127.0.0.5 is served).
Connections still waiting in the queue count towards max_sessions_per_client:
one address cannot fill the queue while every worker is busy."""
import time

import sgtest


def session(d, source, echo):
    s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port, source=source)
    assert rep == 0, rep
    s.sendall(b"a")
    assert sgtest.recv_exact(s, 1) == b"a"
    return s


def closed_before_handshake(d, source):
    s = sgtest.connect_proxy(d, source=source)
    try:
        s.sendall(b"\x05\x01\x00")
        s.settimeout(10)
        data = s.recv(16)
    except (ConnectionResetError, BrokenPipeError):
        data = b""
    s.close()
    return data == b""


def test():
    with sgtest.echo_server() as echo:
        with sgtest.Daemon(["auth = none", "max_sessions_per_client = 2"]) as d:
            a = session(d, "127.0.0.1", echo)
            b = session(d, "127.0.0.1", echo)
            assert closed_before_handshake(d, "127.0.0.1"), "third session was served"
            d.wait_log(r"closing connection from 127\.0\.0\.1: that address is at "
                       r"max_sessions_per_client \(2\)")
            c = session(d, "127.0.0.3", echo)
            a.close()
            d.wait_log(r"session \d+ ", count=1)
            session(d, "127.0.0.1", echo).close()
            for s in (b, c):
                s.sendall(b"z")
                assert sgtest.recv_exact(s, 1) == b"z"
                s.close()

        with sgtest.Daemon(["auth = none", "max_connection_rate = 3"]) as d:
            socks = []
            t0 = time.monotonic()
            for _ in range(10):
                socks.append(sgtest.connect_proxy(d, source="127.0.0.4"))
            took = time.monotonic() - t0
            cut = 0
            for s in socks:
                try:
                    s.sendall(b"\x05\x01\x00")
                    s.settimeout(10)
                    r = s.recv(2)
                except (ConnectionResetError, BrokenPipeError):
                    r = b""
                if r == b"":
                    cut += 1
                else:
                    assert r == b"\x05\x00", r
                s.close()
            sgtest.log("10 connections in %.3fs: %d closed" % (took, cut))
            if took < 0.9:
                assert cut >= 6, "only %d of 10 connections were cut at 3/s" % cut
            assert cut >= 1
            d.wait_log(r"closing connection from 127\.0\.0\.4: more than 3 new connections "
                       r"per second from that address \(max_connection_rate\)")
            session(d, "127.0.0.5", echo).close()

        # One worker, busy; the queue holds connections from 127.0.0.6 only
        # up to its share, so 127.0.0.7 still gets a queue place.
        with sgtest.Daemon(["auth = none", "workers_min = 1", "workers_max = 1",
                            "queue_length = 8", "max_sessions_per_client = 2"]) as d:
            busy = session(d, "127.0.0.6", echo)
            queued = sgtest.connect_proxy(d, source="127.0.0.6")  # waits for the worker
            assert closed_before_handshake(d, "127.0.0.6"), "a third connection was queued"
            d.wait_log(r"closing connection from 127\.0\.0\.6: that address is at "
                       r"max_sessions_per_client \(2\)")
            other = sgtest.connect_proxy(d, source="127.0.0.7")
            busy.close()
            queued.close()
            # The worker frees up: the other address's queued connection is served.
            other.sendall(b"\x05\x01\x00")
            other.settimeout(10)
            assert other.recv(2) == b"\x05\x00", "the other address was not served"
            other.close()
            # Slots come back: 127.0.0.6 may open sessions again.
            d.wait_log(r"session \d+ .*client=127\.0\.0\.6", count=2)
            session(d, "127.0.0.6", echo).close()


sgtest.main(test)
