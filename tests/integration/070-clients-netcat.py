#!/usr/bin/python3
"""Interop with OpenBSD netcat (package netcat-openbsd, `nc -X 5 -x`), a
SOCKS5 client with its own handshake code: a CONNECT by IPv4 address and by
name (resolved by the gateway), and 2 MiB each way through a half-close
(`-N` shuts the write side at EOF on stdin; the echo answers everything and
then the gateway passes the EOF back)."""
import os
import subprocess

import sgtest

SIZE = 2 << 20


def nc_is_openbsd(nc):
    r = sgtest.run([nc, "-h"], timeout=10)
    return b"-X proto" in r.stdout + r.stderr


def test():
    nc = sgtest.require_tool("nc")
    if not nc_is_openbsd(nc):
        sgtest.skip("nc is not OpenBSD netcat (package netcat-openbsd)")
    with sgtest.echo_server() as echo, sgtest.Daemon(["auth = none"]) as d:
        for host in ("127.0.0.1", "localhost"):
            r = sgtest.run([nc, "-X", "5", "-x", d.addr_str(), "-N", "-w", "20", host,
                            str(echo.port)], input=b"hello via nc\n", timeout=30)
            assert r.returncode == 0, r
            assert r.stdout == b"hello via nc\n", r
        data = os.urandom(SIZE)
        r = sgtest.run([nc, "-X", "5", "-x", d.addr_str(), "-N", "-w", "30", "127.0.0.1",
                        str(echo.port)], input=data, timeout=60)
        assert r.returncode == 0, r
        assert len(r.stdout) == SIZE and sgtest.sha256(r.stdout) == sgtest.sha256(data), \
            "bulk: %d of %d bytes back" % (len(r.stdout), SIZE)
        recs = d.wait_log(r"session \d+ .*reply=0x00", count=3)
        sgtest.log("\n".join(recs))
        rec = [x for x in d.sessions() if x.get("up") == str(SIZE)]
        assert rec and rec[0]["down"] == str(SIZE), d.sessions()
        assert any(x.get("dest", "").startswith("localhost:") for x in d.sessions()), \
            d.sessions()


sgtest.main(test)
