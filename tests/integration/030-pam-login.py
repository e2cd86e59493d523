#!/usr/bin/python3
"""RFC 1929 username/password through PAM (pam_wrapper + pam_matrix, no root):
good credentials pass with curl, python3-socks and a raw client; wrong
password, unknown user, empty and NUL-bearing names and a wrong
sub-negotiation version are refused and closed; a client offering only
"no authentication" gets 0xFF; failures take the same time whether or not
the user exists."""
import os
import socket
import time

import sgtest

LONG_USER = "u" * 255
LONG_PASS = "p" * 255


def fail_time(d, user, password):
    s = sgtest.connect_proxy(d)
    t0 = time.monotonic()
    assert sgtest.greet(s, b"\x02") == 2
    r = sgtest.userpass(s, user, password)
    dt = time.monotonic() - t0
    assert r[0] == 1 and r[1] != 0, "auth reply %r for %s" % (r, user)
    assert sgtest.closed_by_peer(s), "connection not closed after failed login"
    s.close()
    return dt


def test():
    try:
        import socks
    except ImportError:
        sgtest.skip("python3-socks is not installed")
    env = sgtest.pam_wrapper_env({"alice": "s3cret word", LONG_USER: LONG_PASS})
    with sgtest.echo_server() as echo, sgtest.Daemon(
            ["auth = pam", "auth_fail_delay = 1s", "auth_fail_limit = 0"], env=env) as d:
        # curl
        curl = sgtest.require_tool("curl")
        def http(c):
            c.recv(4096)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        with sgtest.Server(http) as web:
            r = sgtest.run([curl, "-sS", "--max-time", "20", "-x",
                            "socks5h://alice:s3cret%20word@" + d.addr_str(),
                            "http://localhost:%d/" % web.port])
            assert r.returncode == 0 and r.stdout == b"ok", r
            r = sgtest.run([curl, "-sS", "--max-time", "20", "-x",
                            "socks5h://alice:wrong@" + d.addr_str(),
                            "http://localhost:%d/" % web.port])
            assert r.returncode != 0, "curl with a wrong password got through"

        # python3-socks with credentials
        s = socks.socksocket()
        s.set_proxy(socks.SOCKS5, d.host, d.port, rdns=True, username="alice",
                    password="s3cret word")
        s.settimeout(10)
        s.connect(("127.0.0.1", echo.port))
        s.sendall(b"hello")
        assert sgtest.recv_exact(s, 5) == b"hello"
        s.close()

        # raw client, 255-byte username and password
        s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port, user=LONG_USER,
                                            password=LONG_PASS)
        assert rep == 0
        s.sendall(b"x")
        assert sgtest.recv_exact(s, 1) == b"x"
        s.close()

        # only "no authentication" offered
        s = sgtest.connect_proxy(d)
        assert sgtest.greet(s, b"\x00") == 0xFF
        assert sgtest.closed_by_peer(s)
        s.close()

        # empty username, NUL in username: refused without reaching PAM
        for user in (b"", b"ali\x00ce"):
            s = sgtest.connect_proxy(d)
            assert sgtest.greet(s, b"\x00\x02") == 2
            r = sgtest.userpass(s, user, b"s3cret word")
            assert r[0] == 1 and r[1] != 0, r
            assert sgtest.closed_by_peer(s)
            s.close()

        # wrong sub-negotiation version: closed without success
        s = sgtest.connect_proxy(d)
        assert sgtest.greet(s, b"\x02") == 2
        s.sendall(b"\x05\x05alice\x0bs3cret word")
        s.settimeout(5)
        try:
            data = s.recv(16)
        except ConnectionResetError:
            data = b""
        assert data[:2] != b"\x01\x00" and data[:2] != b"\x05\x00", data
        assert sgtest.closed_by_peer(s)
        s.close()

        # equal failure time for a known and an unknown user
        t_known = fail_time(d, "alice", "wrong")
        t_unknown = fail_time(d, "nosuchuser", "wrong")
        sgtest.log("failure times: known %.3f s, unknown %.3f s" % (t_known, t_unknown))
        assert 0.95 <= t_known <= 1.5 and 0.95 <= t_unknown <= 1.5
        assert abs(t_known - t_unknown) < 0.2

        d.wait_log(r"authentication failure for alice from 127\.0\.0\.1$")
        d.wait_log(r"authentication failure for nosuchuser from 127\.0\.0\.1$")
        d.wait_log(r'authentication failure for "" from 127\.0\.0\.1$')  # the empty name
        recs = d.sessions()
        ok = [r for r in recs if r["user"] == "alice" and r["reply"].startswith("0x00")]
        assert ok, recs
        bad = [r for r in recs if r["user"] == "nosuchuser"]
        assert bad and "pam_authenticate" in bad[0]["reason"], bad
        assert "ali\\x00ce" in d.log(), "NUL byte not escaped in the log"
        assert "s3cret" not in d.log(), "the password reached the log"


sgtest.main(test)
