#!/usr/bin/python3
"""SIGHUP applies a changed listen list: a new address is served at once, an
address that went is closed, one that stays keeps its socket, and a live
session accepted on the old address goes on. A listen address that cannot
be bound refuses the whole reload: the gateway keeps the old listeners and
settings and says why."""
import signal
import socket

import sgtest


def served(port, echo_port, host="127.0.0.1"):
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(b"\x05\x01\x00")
    assert sgtest.recv_exact(s, 2) == b"\x05\x00"
    s.sendall(b"\x05\x01\x00" + sgtest.encode_addr("127.0.0.1", echo_port))
    rep, _, _ = sgtest.read_reply(s)
    assert rep == 0, "reply 0x%02x on port %d" % (rep, port)
    s.sendall(b"hi")
    assert sgtest.recv_exact(s, 2) == b"hi"
    s.close()
    return True


def write(d, listens, extra=()):
    lines = ["listen = 127.0.0.1:%d" % p for p in listens] + ["auth = none"] + list(extra)
    lines.append(d.LOOPBACK_RULE)
    with open(d.conf, "w") as f:
        f.write("\n".join(lines) + "\n")


def test():
    a, b, c = sgtest.free_port(), sgtest.free_port(), sgtest.free_port()
    assert len({a, b, c}) == 3
    with sgtest.echo_server() as echo, \
            sgtest.Daemon(["auth = none"], port=a) as d:
        live, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port)
        assert rep == 0

        # a -> a + b: b is served, a keeps working.
        write(d, [a, b])
        d.signal(signal.SIGHUP)
        d.wait_log(r"configuration reloaded", count=1)
        assert served(b, echo.port) and served(a, echo.port)

        # a + b -> b: a is closed, b still served; the session from a goes on.
        write(d, [b])
        d.signal(signal.SIGHUP)
        d.wait_log(r"configuration reloaded", count=2)
        assert len(d.wait_log(r"no longer listening on 127\.0\.0\.1:%d$" % a)) == 1
        assert "no longer listening on 127.0.0.1:%d" % b not in d.log(), d.log()
        assert sgtest.tcp_refused("127.0.0.1", a), "the dropped listen address still accepts"
        assert served(b, echo.port)
        live.sendall(b"still here")
        assert sgtest.recv_exact(live, 10) == b"still here"

        # An address that is taken: the reload is refused as a whole.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squat:
            squat.bind(("127.0.0.1", c))
            squat.listen(1)
            write(d, [b, c], ["idle_timeout = 5m"])
            d.signal(signal.SIGHUP)
            d.wait_log(r"reload refused: cannot listen on 127\.0\.0\.1:%d: Address already "
                       r"in use; keeping the old configuration" % c)
        assert served(b, echo.port)
        assert d.log().count("configuration reloaded") == 2
        live.close()


sgtest.main(test)
