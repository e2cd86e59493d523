#!/usr/bin/python3
"""Interop with proxychains4 (package proxychains4), which hooks connect() in
an unmodified program (here Python itself) and speaks SOCKS5 for it: a plain
CONNECT, and one with username/password from its [ProxyList] checked by PAM
through pam_wrapper; the session record names the user."""
import os

import sgtest

CLIENT = r"""
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.sendall(b"hello via proxychains\n")
s.shutdown(socket.SHUT_WR)
buf = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    buf += d
sys.stdout.buffer.write(buf)
"""


def run_through(tool, d, port, creds=""):
    conf = os.path.join(d.dir, "proxychains.conf")
    with open(conf, "w") as f:
        f.write("strict_chain\nquiet_mode\ntcp_read_time_out 10000\ntcp_connect_time_out 10000\n"
                "[ProxyList]\nsocks5 127.0.0.1 %d %s\n" % (d.port, creds))
    # The client must be a dynamically linked program without a sanitizer
    # runtime of its own; the system Python is one.
    return sgtest.run([tool, "-q", "-f", conf, "/usr/bin/python3", "-c", CLIENT, str(port)],
                      timeout=30)


def test():
    tool = sgtest.require_tool("proxychains4")
    if not os.access("/usr/bin/python3", os.X_OK):
        sgtest.skip("/usr/bin/python3 is missing")
    env = sgtest.pam_wrapper_env({"alice": "s3cret"})
    with sgtest.echo_server() as echo, sgtest.Daemon(["auth = none"]) as d:
        r = run_through(tool, d, echo.port)
        assert r.returncode == 0 and r.stdout == b"hello via proxychains\n", r
        d.wait_log(r"session \d+ .*reply=0x00.* up=22 down=22")

    with sgtest.echo_server() as echo, sgtest.Daemon(
            ["auth = pam", "auth_fail_delay = 0", "auth_fail_limit = 0"], env=env) as d:
        r = run_through(tool, d, echo.port, "alice s3cret")
        assert r.returncode == 0 and r.stdout == b"hello via proxychains\n", r
        d.wait_log(r"session \d+ .*user=alice .*reply=0x00")
        r = run_through(tool, d, echo.port, "alice wrong")
        assert r.stdout == b"", r
        d.wait_log(r"session \d+ .*user=alice .*reason=", count=1)


sgtest.main(test)
