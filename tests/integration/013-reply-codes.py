#!/usr/bin/python3
"""Every reply code that can be provoked: on loopback 0x05 (refused: a closed
port), 0x04 (a name that does not resolve), 0x07 (an unknown command) and 0x08
(an unknown address type, after which the connection closes). As root, in a
network namespace this test creates (unshare -n): 0x04 from an "unreachable"
route, 0x02 from a "prohibit" route, 0x06 from a route into a device where
packets vanish (connect_timeout = 1s) and 0x03 for an address with no route.
Each session record carries the reply code the client got. No traffic leaves
loopback except inside the namespace."""
import os
import shutil
import subprocess
import sys
import time

import sgtest

NETNS_FLAG = "SGTEST_013_IN_NETNS"


def expect_reply(d, host, port, want, what, cmd=1):
    t0 = time.monotonic()
    s, rep, _, _ = sgtest.socks_request(d, host, port, cmd=cmd, timeout=15)
    took = time.monotonic() - t0
    assert rep == want, "%s: reply 0x%02x, expected 0x%02x" % (what, rep, want)
    # A failure reply is the end of the session: the gateway closes.
    assert sgtest.closed_by_peer(s, 5), "%s: connection left open after the reply" % what
    s.close()
    sgtest.log("%s: reply 0x%02x in %.2fs" % (what, rep, took))
    return took


def check_records(d, wants):
    """wants: (dest or None, reply code, what), one per session, in order."""
    d.wait_log(r"session \d+ ", count=len(wants))
    recs = sorted(d.sessions(), key=lambda r: r["id"])
    assert len(recs) == len(wants), recs
    for rec, (dest, code, what) in zip(recs, wants):
        assert rec["reply"].startswith("0x%02x" % code), "%s: record %r" % (what, rec)
        if dest is not None:
            assert rec["dest"] == dest, "%s: record %r" % (what, rec)
        if code != 0:
            assert rec["reason"], "%s: record without a reason: %r" % (what, rec)


def loopback_part():
    closed = sgtest.free_port()
    with sgtest.Daemon(["auth = none"]) as d:
        wants = []
        expect_reply(d, "127.0.0.1", closed, 0x05, "refused")
        wants.append(("127.0.0.1:%d" % closed, 0x05, "refused"))

        expect_reply(d, "nonexistent.invalid", 80, 0x04, "unresolvable name")
        wants.append(("nonexistent.invalid:80", 0x04, "unresolvable name"))

        # 0x09 is no command; BIND (0x02) and UDP ASSOCIATE (0x03) are real
        # commands and are tested on their own.
        expect_reply(d, "127.0.0.1", closed, 0x07, "command 0x09", cmd=0x09)
        wants.append(("127.0.0.1:%d" % closed, 0x07, "command 0x09"))

        s = sgtest.connect_proxy(d)
        assert sgtest.greet(s) == 0
        s.sendall(b"\x05\x01\x00\x02" + b"\x7f\x00\x00\x01" + b"\x00\x50")
        rep, _, _ = sgtest.read_reply(s)
        assert rep == 0x08, "ATYP 0x02: reply 0x%02x" % rep
        assert sgtest.closed_by_peer(s, 5), "ATYP 0x02: connection left open"
        s.close()
        sgtest.log("ATYP 0x02: reply 0x08")
        wants.append((None, 0x08, "ATYP 0x02"))

        check_records(d, wants)


def netns_part():
    """Runs inside the private network namespace (re-executed by the outer run)."""
    ip = sgtest.require_tool("ip")

    def sh(*args, check=True):
        r = subprocess.run([ip] + list(args), capture_output=True, text=True, timeout=10)
        if check and r.returncode != 0:
            raise AssertionError("ip %s: %s" % (" ".join(args), r.stderr.strip()))
        return r

    sh("link", "set", "lo", "up")
    routes = sh("route", "show").stdout + sh("-6", "route", "show").stdout
    assert "default" not in routes, "the new namespace has a default route?\n" + routes
    sh("route", "add", "unreachable", "198.51.100.0/24")
    sh("route", "add", "prohibit", "203.0.113.0/24")
    # A route into a device that drops everything: connects neither fail nor
    # finish. A dummy device if the kernel has it; otherwise loopback, where a
    # SYN for an address that is not local is dropped (no forwarding).
    if sh("link", "add", "d0", "type", "dummy", check=False).returncode == 0:
        sh("link", "set", "d0", "up")
        sh("route", "add", "192.0.2.0/24", "dev", "d0")
        sgtest.log("blackhole device: dummy d0")
    else:
        sh("route", "add", "192.0.2.0/24", "dev", "lo")
        sgtest.log("no dummy devices here: routing 192.0.2.0/24 into lo")

    with sgtest.Daemon(["auth = none", "connect_timeout = 1s"]) as d:
        expect_reply(d, "198.51.100.7", 80, 0x04, "unreachable route")
        expect_reply(d, "203.0.113.7", 80, 0x02, "prohibit route")
        took = expect_reply(d, "192.0.2.7", 80, 0x06, "connect timeout")
        assert 0.8 < took < 5, "connect timeout after %.2fs with connect_timeout = 1s" % took
        expect_reply(d, "10.255.255.1", 80, 0x03, "no route")
        check_records(d, [("198.51.100.7:80", 0x04, "unreachable route"),
                          ("203.0.113.7:80", 0x02, "prohibit route"),
                          ("192.0.2.7:80", 0x06, "connect timeout"),
                          ("10.255.255.1:80", 0x03, "no route")])


def netns_outer():
    if os.geteuid() != 0:
        sgtest.log("not root: skipping the reply codes that need a private network namespace")
        return
    unshare = shutil.which("unshare")
    if unshare is None or shutil.which("ip") is None:
        sgtest.log("unshare or ip missing: skipping the network-namespace part")
        return
    probe = subprocess.run([unshare, "-n", "true"], capture_output=True, text=True, timeout=10)
    if probe.returncode != 0:
        sgtest.log("cannot create a network namespace (%s): skipping that part"
                   % probe.stderr.strip())
        return
    env = dict(os.environ)
    env[NETNS_FLAG] = "1"
    r = subprocess.run([unshare, "-n", sys.executable, os.path.abspath(__file__)], env=env,
                       capture_output=True, text=True, timeout=60)
    sys.stdout.write(r.stdout)
    sys.stdout.write(r.stderr)
    sys.stdout.flush()
    assert r.returncode == 0, "the network-namespace part failed (exit %d)" % r.returncode


def test():
    if os.environ.get(NETNS_FLAG) == "1":
        netns_part()
        return
    loopback_part()
    netns_outer()


sgtest.main(test)
