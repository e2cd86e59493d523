#!/usr/bin/python3
"""Client rules ("from" only) are decided when a connection is accepted:
with "allow from 127.0.0.2" and "deny from any", a client on 127.0.0.1 is
closed before the gateway reads or sends a byte (no method reply), with a
log line naming the rule; a client bound to 127.0.0.2 is served. Request
rules after them still apply to the admitted client."""
import socket

import sgtest


def test():
    with sgtest.echo_server() as echo:
        conf = ["auth = none", "allow from 127.0.0.2", "deny from any",
                "deny to 127.0.0.1 port 1"]
        with sgtest.Daemon(conf) as d:
            s = sgtest.connect_proxy(d, source="127.0.0.1")
            try:
                s.sendall(b"\x05\x01\x00")
            except OSError:
                pass
            s.settimeout(5)
            try:
                data = s.recv(16)
            except ConnectionResetError:
                data = b""
            assert data == b"", "a refused client got %r" % data
            s.close()
            d.wait_log(r"closing connection from 127\.0\.0\.1: refused by client rule %s:%d$"
                       % (d.conf.replace(".", r"\."), d.line_of("deny from any")))

            s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port, source="127.0.0.2")
            assert rep == 0
            s.sendall(b"ok")
            assert sgtest.recv_exact(s, 2) == b"ok"
            s.close()
            s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", 1, source="127.0.0.2")
            assert rep == 0x02
            s.close()
            d.wait_log(r"session \d+ ", count=2)
            recs = d.sessions()
            # The refused client never became a session.
            assert len(recs) == 2 and all(r["client"].startswith("127.0.0.2:") for r in recs)


sgtest.main(test)
