#!/usr/bin/python3
"""socat (package socat) speaks only SOCKS4 and SOCKS4a. socksgate speaks
SOCKS5 only, so such a client must get a clean close (no SOCKS4 grant, no
hang, no reply bytes) and a session record that says SOCKS4; a SOCKS5 client
is served afterwards."""
import sgtest


def test():
    tool = sgtest.require_tool("socat")
    with sgtest.echo_server() as echo, sgtest.Daemon(["auth = none"]) as d:
        for proto, host in (("SOCKS4", "127.0.0.1"), ("SOCKS4A", "localhost")):
            r = sgtest.run([tool, "-T", "10", "-", "%s:127.0.0.1:%s:%d,socksport=%d" % (
                proto, host, echo.port, d.port)], input=b"hello\n", timeout=30)
            assert r.returncode != 0 and r.stdout == b"", (proto, r)
        d.wait_log(r"session \d+ .*reason=not a SOCKS5 client \(first byte 0x04, SOCKS4\)",
                   count=2)
        s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port)
        assert rep == 0
        s.sendall(b"ok")
        assert sgtest.recv_exact(s, 2) == b"ok"
        s.close()


sgtest.main(test)
