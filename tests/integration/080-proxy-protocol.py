#!/usr/bin/python3
"""PROXY protocol on a listener marked "proxy", with a raw client playing the
load balancer: v1 and v2 headers (IPv4, IPv6, IPv4-mapped, TLVs, split into
single bytes, the greeting in the same segment) make their source the
session's client, and the record keeps the balancer as via=. v2 LOCAL (a
health check) is closed with no record; UNKNOWN keeps the balancer's
address. A client speaking SOCKS5 first, a malformed header, a timeout and
an early close end with a reason in the record and no reply byte. A
connection from outside proxy_from is closed before anything is read. A
listener without "proxy" on the same daemon takes plain clients."""
import re
import socket
import time

import sgproxy
import sgtest

CONF = ["auth = none", "allow_unauthenticated = yes", "handshake_timeout = 1s",
        "log_level = debug"]


def connect_echo(s, echo_port, greeting_sent=False):
    """Greeting (unless already sent) and CONNECT to the echo server; checks
    the relay."""
    if not greeting_sent:
        s.sendall(b"\x05\x01\x00")
    assert sgtest.recv_exact(s, 2) == b"\x05\x00"
    s.sendall(b"\x05\x01\x00" + sgtest.encode_addr("127.0.0.1", echo_port))
    rep, _, _ = sgtest.read_reply(s)
    assert rep == 0, "reply 0x%02x" % rep
    s.sendall(b"ping")
    assert sgtest.recv_exact(s, 4) == b"ping"


def session_via(d, header, echo_port, n, split=False):
    """One session behind header; returns its record (the n-th)."""
    with sgproxy.balancer_socket(d) as s:
        via_port = s.getsockname()[1]
        if split:
            for b in header:
                s.sendall(bytes([b]))
                time.sleep(0.002)
            connect_echo(s, echo_port)
        else:
            s.sendall(header + b"\x05\x01\x00")  # the greeting in the same segment
            connect_echo(s, echo_port, greeting_sent=True)
    d.wait_log(r"session \d+ ", count=n)
    rec = d.sessions()[n - 1]
    assert rec["via"] == "127.0.0.1:%d" % via_port, rec
    assert rec["reply"].startswith("0x00") and rec["up"] == "4", rec
    return rec


def refused_with_reason(d, data, n, reason, close=False):
    """data then (optionally) a close: the gateway closes without a byte
    for the client, and the n-th record gives reason."""
    with sgproxy.balancer_socket(d) as s:
        via = "127.0.0.1:%d" % s.getsockname()[1]
        if data:
            s.sendall(data)
        if close:
            s.shutdown(socket.SHUT_WR)
        s.settimeout(5)
        try:
            got = s.recv(100)
        except ConnectionResetError:
            got = b""
        assert got == b"", "the gateway answered %r" % got
    d.wait_log(r"session \d+ ", count=n)
    rec = d.sessions()[n - 1]
    assert rec["client"] == via and rec["via"] == via, rec
    assert rec["reason"] is not None and re.search(reason, rec["reason"]), rec
    return rec


def test_headers(d, echo):
    port = d.port
    rec = session_via(d, sgproxy.v1("192.0.2.10", 4000, "127.0.0.1", port), echo.port, 1)
    assert rec["client"] == "192.0.2.10:4000", rec
    rec = session_via(d, sgproxy.v2("192.0.2.11", 4001, "127.0.0.1", port), echo.port, 2)
    assert rec["client"] == "192.0.2.11:4001", rec
    rec = session_via(d, sgproxy.v2("2001:db8::7", 4002, "::1", port), echo.port, 3)
    assert rec["client"] == "[2001:db8::7]:4002", rec
    rec = session_via(d, sgproxy.v1("::ffff:192.0.2.12", 4003, "::1", port), echo.port, 4)
    assert rec["client"] == "192.0.2.12:4003", rec
    # TLVs (ALPN, authority, NOOP) are skipped.
    tlvs = b"\x01\x00\x02h2" + b"\x02\x00\x0bexample.com" + b"\x04\x00\x03\x00\x00\x00"
    rec = session_via(d, sgproxy.v2("192.0.2.13", 4004, "127.0.0.1", port, tlvs), echo.port, 5)
    assert rec["client"] == "192.0.2.13:4004", rec
    rec = session_via(d, sgproxy.v2("192.0.2.14", 4005, "127.0.0.1", port), echo.port, 6,
                      split=True)
    assert rec["client"] == "192.0.2.14:4005", rec
    rec = session_via(d, sgproxy.v1_unknown(), echo.port, 7)
    assert rec["client"] == rec["via"], rec
    return 7


def test_health_check(d, n):
    for _ in range(3):
        with sgproxy.balancer_socket(d) as s:
            s.sendall(sgproxy.v2_local())
            assert sgtest.closed_by_peer(s), "LOCAL connection left open"
    d.wait_log(r"health check from 127\.0\.0\.1:\d+ \(PROXY protocol LOCAL\)", count=3)
    time.sleep(0.2)
    assert len(d.sessions()) == n, "a health check left a record:\n" + d.log()


def test_failures(d, n):
    rec = refused_with_reason(d, b"\x05\x01\x00", n + 1,
                              r"^no PROXY protocol signature \(first byte 0x05: a SOCKS5 client")
    assert rec["cmd"] == "-" and rec["reply"] == "-", rec
    refused_with_reason(d, b"PROXY TCP4 192.0.2.1 127.0.0.1 70000 1080\r\n", n + 2,
                        r"^malformed PROXY protocol header")
    refused_with_reason(d, sgproxy.V2_SIG + b"\x22\x11\x00\x0c" + b"\x00" * 12, n + 3,
                        r"^unsupported PROXY protocol")
    t0 = time.monotonic()
    refused_with_reason(d, b"PROXY TCP4 ", n + 4,
                        r"^handshake timeout waiting for the PROXY protocol header")
    took = time.monotonic() - t0
    assert 0.8 < took < 4, "timeout after %.2fs (handshake_timeout = 1s)" % took
    refused_with_reason(d, b"", n + 5, r"^connection closed before the PROXY protocol header",
                        close=True)
    return n + 5


def test_untrusted(d, n):
    """127.0.0.2 is not in proxy_from: closed at accept, never read."""
    for _ in range(3):
        with sgproxy.balancer_socket(d, source="127.0.0.2") as s:
            s.sendall(sgproxy.v1("192.0.2.30", 5000, "127.0.0.1", d.port) + b"\x05\x01\x00")
            s.settimeout(5)
            try:
                assert s.recv(10) == b"", "an untrusted peer was answered"
            except ConnectionResetError:
                pass
    lines = d.wait_log(r"closing connection from 127\.0\.0\.2: a listener that expects a "
                       r"PROXY protocol header takes connections only from proxy_from")
    assert len(lines) == 1, "not rate-limited: %r" % lines
    time.sleep(0.2)
    assert len(d.sessions()) == n, d.log()
    assert "192.0.2.30" not in d.log(), "the untrusted header was read:\n" + d.log()


def test_plain_listener(d, echo, plain_port, n):
    with socket.create_connection(("127.0.0.1", plain_port), timeout=5) as s:
        connect_echo(s, echo.port)
    d.wait_log(r"session \d+ ", count=n + 1)
    rec = d.sessions()[n]
    assert "via" not in rec and rec["client"].startswith("127.0.0.1:"), rec


def test():
    plain = sgtest.free_port()
    with sgtest.echo_server() as echo, \
            sgproxy.proxy_daemon(CONF, extra_listen=["127.0.0.1:%d" % plain]) as d:
        d.wait_log(r"127\.0\.0\.1:%d expects a PROXY protocol header" % d.port)
        assert not re.search(r"127\.0\.0\.1:%d expects" % plain, d.log()), d.log()
        n = test_headers(d, echo)
        test_health_check(d, n)
        n = test_failures(d, n)
        test_untrusted(d, n)
        test_plain_listener(d, echo, plain, n)


sgtest.main(test)
