#!/usr/bin/python3
"""curl through the gateway with socks5h:// and socks5://: a multi-megabyte
file arrives intact, and each session is one record naming its destination."""
import os
import socket

import sgtest

SIZE = 8 * 1024 * 1024


def test():
    curl = sgtest.require_tool("curl")
    data = os.urandom(SIZE)

    def http_file(c):
        req = b""
        while b"\r\n\r\n" not in req:
            d = c.recv(4096)
            if not d:
                return
            req += d
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                  % len(data) + data)

    with sgtest.Server(http_file) as web, sgtest.Daemon(["auth = none"]) as d:
        out = os.path.join(d.dir, "out")
        for scheme, host in (("socks5h", "localhost"), ("socks5", "127.0.0.1")):
            r = sgtest.run([curl, "-sS", "--max-time", "30", "-o", out, "-x",
                            "%s://%s" % (scheme, d.addr_str()),
                            "http://%s:%d/file" % (host, web.port)])
            assert r.returncode == 0, r.stderr
            with open(out, "rb") as f:
                got = f.read()
            assert sgtest.sha256(got) == sgtest.sha256(data), "%s: checksum differs" % scheme
        recs = d.wait_log(r"session \d+ ", count=2)
        assert len(recs) == 2
        s = d.sessions()
        assert s[0]["dest"] == "localhost:%d" % web.port, s[0]
        assert s[1]["dest"] == "127.0.0.1:%d" % web.port, s[1]
        for rec in s:
            assert rec["reply"].startswith("0x00"), rec
            assert rec["user"] == "-" and rec["cmd"] == "connect", rec
            assert int(rec["down"]) > SIZE, rec
            assert rec["addr"] == "127.0.0.1:%d" % web.port or rec["addr"] == "[::1]:%d" % web.port


sgtest.main(test)
