#!/usr/bin/python3
"""outgoing_address binds outgoing connections: with outgoing_address =
127.0.0.9 the destination sees 127.0.0.9 as its peer, for CONNECT and for
the UDP relay's datagrams; an allow rule's "via 127.0.0.10" does the same
for that rule's users only. -t (and start) refuse an address the machine does
not have, naming where it was set. In a network namespace of the test's
own."""
import os
import subprocess

import sgcmds
import sgnet
import sgtest

USERS = {"alice": "alice-pw", "bob": "bob-pw"}


def peer_of(d, port, **creds):
    s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", port, **creds)
    with s:
        assert rep == 0, rep
        line = b""
        while not line.endswith(b"\n"):
            line += sgtest.recv_exact(s, 1)
        return line.decode().strip()


def check_t(lines, needle):
    d = os.path.join(os.environ.get("TMPDIR", "/tmp"), "sg-out-%d.conf" % os.getpid())
    with open(d, "w") as f:
        f.write("\n".join(["auth = none", "listen = 127.0.0.1:1080"] + lines) + "\n")
    try:
        r = subprocess.run([sgtest.SOCKSGATE, "-t", "-c", d], capture_output=True, text=True,
                           timeout=30)
    finally:
        os.unlink(d)
    sgtest.log("-t %r: exit %d %s" % (lines, r.returncode, r.stderr))
    assert r.returncode == 1, r
    assert needle in r.stderr, r.stderr
    return r.stderr


def test():
    sgnet.isolate()
    with sgnet.peer_server("127.0.0.1") as srv:
        with sgtest.Daemon(["auth = none", "outgoing_address = 127.0.0.9"]) as d:
            assert peer_of(d, srv.port) == "127.0.0.9"
            with sgcmds.UdpEcho() as echo:
                ctl, relay = sgcmds.associate(d)
                cl = sgcmds.udp_socket()
                cl.sendto(sgcmds.udp_header("127.0.0.1", echo.port) + b"hi", relay)
                assert sgcmds.recv_dgram(cl) is not None
                assert echo.got[0][1][0] == "127.0.0.9", echo.got
                cl.close()
                ctl.close()
        env = sgtest.pam_wrapper_env(USERS)
        with sgtest.Daemon(["auth = pam", "auth_fail_limit = 0", "outgoing_address = 127.0.0.9",
                            "allow user alice to 127.0.0.0/8 via 127.0.0.10"], env=env) as d:
            assert peer_of(d, srv.port, user="alice", password=USERS["alice"]) == "127.0.0.10"
            assert peer_of(d, srv.port, user="bob", password=USERS["bob"]) == "127.0.0.9"
    err = check_t(["outgoing_address = 192.0.2.123"], "outgoing_address: 192.0.2.123 is not "
                  "an address of this machine")
    err = check_t(["allow user alice via 2001:db8::77"], "via: 2001:db8::77 is not an address "
                  "of this machine")
    assert ".conf:3: via" in err, err


sgtest.main(test)
