#!/usr/bin/python3
"""PySocks (python3-socks) through the gateway with auth = none: a random
payload makes a round trip through a local echo server intact, once with the
name "localhost" resolved by the gateway (rdns=True) and once with an IPv4
target; each session is one record with reply 0x00 and exact byte counts."""
import os
import threading

import sgtest

SIZE = 2 * 1024 * 1024


def round_trip(d, host, port, rdns, data):
    try:
        import socks
    except ImportError:
        sgtest.skip("python3-socks is not installed")
    s = socks.socksocket()
    s.set_proxy(socks.SOCKS5, d.host, d.port, rdns=rdns)
    s.settimeout(15)
    s.connect((host, port))
    got = bytearray()
    err = []

    def reader():
        try:
            got.extend(sgtest.recv_exact(s, len(data), timeout=20))
        except BaseException as e:  # reported by the main thread
            err.append(e)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    s.sendall(data)
    t.join(30)
    assert not t.is_alive(), "echo did not come back in time"
    if err:
        raise err[0]
    s.close()
    assert sgtest.sha256(bytes(got)) == sgtest.sha256(data), "checksum differs"


def test():
    try:
        import socks  # noqa: F401
    except ImportError:
        sgtest.skip("python3-socks is not installed")
    with sgtest.echo_server() as echo, sgtest.Daemon(["auth = none"]) as d:
        cases = (("localhost", True), ("127.0.0.1", False))
        for host, rdns in cases:
            round_trip(d, host, echo.port, rdns, os.urandom(SIZE))
        d.wait_log(r"session \d+ ", count=len(cases))
        recs = sorted(d.sessions(), key=lambda r: r["id"])
        assert len(recs) == len(cases), recs
        for rec, (host, _) in zip(recs, cases):
            assert rec["dest"] == "%s:%d" % (host, echo.port), rec
            assert rec["addr"] == "127.0.0.1:%d" % echo.port, rec
            assert rec["reply"].startswith("0x00"), rec
            assert rec["user"] == "-" and rec["cmd"] == "connect", rec
            assert int(rec["up"]) == SIZE and int(rec["down"]) == SIZE, rec


sgtest.main(test)
