#!/usr/bin/python3
"""Draining one of two instances behind a real HAProxy: SIGTERM to instance
a while two loops of new curl sessions run through HAProxy. The instance
stops accepting at once; HAProxy's next health check fails and marks it
down, and the connections it refuses meanwhile are retried on instance b
(retries, option redispatch), so every new session succeeds. The sessions
that were live on a keep working through the drain and are recorded when
they end; then a exits 0."""
import signal
import socket
import threading
import time

import sgproxy
import sgtest

CONF = ["auth = none", "allow_unauthenticated = yes", "drain_timeout = 30s"]


def live_session(ha, echo):
    s = socket.create_connection(("127.0.0.1", ha.port), timeout=10)
    s.sendall(b"\x05\x01\x00")
    assert sgtest.recv_exact(s, 2) == b"\x05\x00"
    s.sendall(b"\x05\x01\x00" + sgtest.encode_addr("127.0.0.1", echo.port))
    rep, _, _ = sgtest.read_reply(s)
    assert rep == 0, rep
    s.sendall(b"before")
    assert sgtest.recv_exact(s, 6) == b"before"
    return s


def test():
    sgproxy.require_haproxy()
    with sgproxy.http_server() as web, sgtest.echo_server() as echo, \
            sgproxy.proxy_daemon(CONF) as a, sgproxy.proxy_daemon(CONF) as b, \
            sgproxy.HAProxy([("a", a.port), ("b", b.port)]) as ha:
        # leastconn spreads them: two on each instance.
        live = [live_session(ha, echo) for _ in range(4)]
        results = []
        stop_at = [None]

        def loop(source):
            while stop_at[0] is None or time.monotonic() < stop_at[0]:
                t = time.monotonic()
                rc, body = sgproxy.curl(ha.port, "http://127.0.0.1:%d/" % web.port,
                                        source=source)
                results.append((t, rc == 0 and body == b"hello from the target\n", rc))

        threads = [threading.Thread(target=loop, args=(src,), daemon=True)
                   for src in ("127.0.0.5", "127.0.0.7")]
        for t in threads:
            t.start()
        time.sleep(1)
        t_term = time.monotonic()
        a.signal(signal.SIGTERM)
        a.wait_log(r"no longer accepting", timeout=5)
        ha.wait_state({"a": False, "b": True})
        stop_at[0] = time.monotonic() + 1.5
        for t in threads:
            t.join(30)
        # The live sessions were not cut, on either instance.
        for s in live:
            s.sendall(b"after")
            assert sgtest.recv_exact(s, 5) == b"after", "a live session broke in the drain"
        after = [r for r in results if r[0] >= t_term]
        failed = [r for r in results if not r[1]]
        sgtest.log("%d sessions, %d after SIGTERM, %d failed" % (len(results), len(after),
                                                                  len(failed)))
        assert not failed, "new sessions failed during the drain: %r\n%s" % (failed, ha.log())
        assert len(after) >= 10, "only %d sessions after SIGTERM" % len(after)
        assert a.proc.poll() is None, "a exited with live sessions:\n" + a.log()
        for s in live:
            s.close()
        rc = a.proc.wait(10)
        assert rc == 0, (rc, a.log())
        on_a = [r for r in a.sessions() if r["up"] == "11"]
        assert on_a, "no live session was on instance a:\n" + a.log()
        assert all(r["reason"] is None and r["client"].startswith("127.0.0.1:") for r in on_a), \
            on_a
        deadline = time.monotonic() + 10
        while len([r for r in b.sessions() if r["up"] == "11"]) < 4 - len(on_a):
            assert time.monotonic() < deadline, "b did not record its live sessions:\n" + b.log()
            time.sleep(0.02)


sgtest.main(test)
