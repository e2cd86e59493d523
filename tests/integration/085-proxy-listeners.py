#!/usr/bin/python3
"""Which sockets expect the PROXY header, and how that changes: `-t` prints
the proxy settings and refuses a "proxy" listener without proxy_from
(FILE:LINE); a reload that adds "proxy" to a kept listen address applies to
the next connection on the same socket, and one that drops it likewise.
Under socket activation, proxy_listen picks the passed sockets by address
(the other one takes plain clients), names that are not passed are warned
about, and a reload that moves proxy_listen to the other socket applies."""
import os
import re
import shutil
import signal
import tempfile

import sgproxy
import sgtest

CONF = ["auth = none", "allow_unauthenticated = yes"]


def plain_ok(port, echo_port):
    s = sgtest.connect_proxy(_At(port))
    with s:
        s.sendall(b"\x05\x01\x00")
        s.settimeout(5)
        try:
            if s.recv(2) != b"\x05\x00":
                return False
        except ConnectionResetError:
            return False
        s.sendall(b"\x05\x01\x00" + sgtest.encode_addr("127.0.0.1", echo_port))
        return sgtest.read_reply(s)[0] == 0


def proxied_ok(port, echo_port, src):
    s = sgtest.connect_proxy(_At(port))
    with s:
        s.sendall(sgproxy.v2(src, 7000, "127.0.0.1", port) + b"\x05\x01\x00")
        s.settimeout(5)
        try:
            if s.recv(2) != b"\x05\x00":
                return False
        except ConnectionResetError:
            return False
        s.sendall(b"\x05\x01\x00" + sgtest.encode_addr("127.0.0.1", echo_port))
        return sgtest.read_reply(s)[0] == 0


class _At:
    """What connect_proxy() needs of a Daemon: a host and a port."""

    def __init__(self, port):
        self.host, self.port = "127.0.0.1", port


def check(text):
    """socksgate -t on a file holding text: (exit code, stdout, stderr, path)."""
    tmp = tempfile.mkdtemp(prefix="socksgate-test-")
    path = os.path.join(tmp, "socksgate.conf")
    try:
        with open(path, "w") as f:
            f.write(text)
        r = sgtest.run([sgtest.SOCKSGATE, "-t", "-c", path], timeout=10)
        return r.returncode, r.stdout.decode(), r.stderr.decode(), path
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_check_config():
    rc, out, err, _ = check("auth = pam\nlisten = 127.0.0.1:1080 proxy, [::1]:1081\n"
                            "proxy_from = 10.0.0.0/24, 192.0.2.7\n"
                            "external_address = 2001:db8::5, 203.0.113.5\n")
    assert rc == 0, out + err
    for line in ("listen = 127.0.0.1:1080 proxy", "listen = [::1]:1081",
                 "proxy_from = 10.0.0.0/24, 192.0.2.7",
                 "external_address = 203.0.113.5, 2001:db8::5", "# proxy_listen: not set"):
        assert re.search("^" + re.escape(line), out, re.M), "%r not in:\n%s" % (line, out)
    rc, out, err, path = check("auth = pam\nlisten = 127.0.0.1:1080, 127.0.0.1:1081 proxy\n")
    assert rc == 1, out + err
    assert re.search(r"%s:2: listen: a listener says 'proxy' but proxy_from is not set"
                     % re.escape(path), err), err


def test_reload(echo):
    with sgtest.Daemon(CONF + ["proxy_from = 127.0.0.1/32"]) as d:
        listen = d.head[0]
        assert plain_ok(d.port, echo.port)
        d.head[0] = listen + " proxy"
        d.rewrite(CONF + ["proxy_from = 127.0.0.1/32"])
        d.signal(signal.SIGHUP)
        d.wait_log(r"configuration reloaded", count=1)
        d.wait_log(r"127\.0\.0\.1:%d expects a PROXY protocol header" % d.port)
        assert "no longer listening" not in d.log(), "the socket was not kept:\n" + d.log()
        assert not plain_ok(d.port, echo.port), "a plain client passed a proxy listener"
        assert proxied_ok(d.port, echo.port, "192.0.2.40")
        d.head[0] = listen
        d.rewrite(CONF + ["proxy_from = 127.0.0.1/32"])
        d.signal(signal.SIGHUP)
        d.wait_log(r"configuration reloaded", count=2)
        assert plain_ok(d.port, echo.port), "still expecting a header after the reload"
        d.wait_log(r"session \d+ ", count=4)
        clients = sgproxy.clients_of(d)
        assert clients == ["127.0.0.1", "127.0.0.1", "192.0.2.40", "127.0.0.1"], d.log()


def test_socket_activation(echo):
    activate = sgtest.require_tool("systemd-socket-activate")
    p1, p2, p3 = sgtest.free_port(), sgtest.free_port(), sgtest.free_port()
    assert len({p1, p2, p3}) == 3
    conf = CONF + ["proxy_from = 127.0.0.1/32",
                   "proxy_listen = 127.0.0.1:%d, 127.0.0.1:%d" % (p1, p3)]
    with sgtest.Daemon(conf, wait=False, listen=False,
                       cmd_prefix=[activate, "-l", "127.0.0.1:%d" % p1,
                                   "-l", "127.0.0.1:%d" % p2]) as d:
        d.wait_log(r"Listening on 127\.0\.0\.1:%d" % p2)
        assert plain_ok(p2, echo.port), "the passed socket without proxy_listen"
        d.wait_ready()
        d.wait_log(r"127\.0\.0\.1:%d expects a PROXY protocol header" % p1)
        d.wait_log(r"proxy_listen: 127\.0\.0\.1:%d is not one of the sockets systemd passed"
                   % p3)
        assert not re.search(r"127\.0\.0\.1:%d expects" % p2, d.log()), d.log()
        assert proxied_ok(p1, echo.port, "192.0.2.50")
        assert not plain_ok(p1, echo.port)
        d.rewrite(CONF + ["proxy_from = 127.0.0.1/32", "proxy_listen = 127.0.0.1:%d" % p2],
                  loopback_targets=True)
        d.signal(signal.SIGHUP)
        d.wait_log(r"configuration reloaded")
        assert plain_ok(p1, echo.port), "p1 still expects a header after the reload"
        assert proxied_ok(p2, echo.port, "192.0.2.51")
        d.wait_log(r"session \d+ ", count=5)
        assert sgproxy.clients_of(d) == ["127.0.0.1", "192.0.2.50", "127.0.0.1", "127.0.0.1",
                                         "192.0.2.51"], d.log()


def test():
    test_check_config()
    with sgtest.echo_server() as echo:
        test_reload(echo)
        test_socket_activation(echo)


sgtest.main(test)
