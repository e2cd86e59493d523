#!/usr/bin/python3
"""TCP keepalive on both legs of a session (tcp_keepalive, 2 minutes by
default; 0 turns it off), seen with ss -o in a network namespace of the
test's own: the daemon's socket to the client and its socket to the
destination carry a keepalive timer."""
import re
import subprocess
import time

import sgnet
import sgtest


def timers(local_port=None, peer_port=None):
    """ss -tno lines of established sockets with that local or peer port."""
    r = subprocess.run(["ss", "-tnoH", "state", "established"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 0, r.stderr
    out = []
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) < 4:
            continue
        lport, pport = int(f[2].rsplit(":", 1)[1]), int(f[3].rsplit(":", 1)[1])
        if (local_port is not None and lport == local_port) or (
                peer_port is not None and pport == peer_port):
            out.append(line)
    return out


def keepalive_secs(line):
    m = re.search(r"timer:\(keepalive,(?:(\d+)min)?(?:(\d+)(?:\.\d+)?sec)?", line)
    if not m:
        return None
    return int(m.group(1) or 0) * 60 + int(m.group(2) or 0)


def check_legs(d, echo_port, want):
    """One CONNECT; both of the daemon's sockets have keepalive (want: the
    idle seconds, about) or none (want None)."""
    s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo_port)
    with s:
        assert rep == 0, rep
        s.sendall(b"x")
        assert sgtest.recv_exact(s, 1) == b"x"
        # A retransmit timer ("on") shows while the echo is unacknowledged.
        deadline = time.monotonic() + 3
        while True:
            client_leg = timers(local_port=d.port)
            dest_leg = timers(peer_port=echo_port)
            if not any("timer:(on" in l for l in client_leg + dest_leg):
                break
            assert time.monotonic() < deadline, (client_leg, dest_leg)
            time.sleep(0.05)
        sgtest.log("client leg: %s\ndest leg: %s" % (client_leg, dest_leg))
        assert len(client_leg) == 1 and len(dest_leg) == 1, (client_leg, dest_leg)
        for line in client_leg + dest_leg:
            secs = keepalive_secs(line)
            if want is None:
                assert secs is None, line
            else:
                assert secs is not None and want - 5 <= secs <= want, line


def test():
    sgnet.isolate()
    sgtest.require_tool("ss")
    with sgtest.echo_server() as echo:
        with sgtest.Daemon(["auth = none"]) as d:
            check_legs(d, echo.port, 120)
        with sgtest.Daemon(["auth = none", "tcp_keepalive = 45s"]) as d:
            check_legs(d, echo.port, 45)
        with sgtest.Daemon(["auth = none", "tcp_keepalive = 0"]) as d:
            check_legs(d, echo.port, None)


sgtest.main(test)
