#!/usr/bin/python3
"""Without a single rule the gateway refuses its own loopback services, the
link-local cloud metadata address, multicast, unspecified and broadcast
addresses and its own interface addresses (reply 0x02, no connection made),
also when a name resolves to them (localhost, a host name of this machine);
an explicit "allow to 127.0.0.0/8" opens loopback, while "allow to any" does
not."""
import socket

import sgtest


def loopback_names():
    """Names other than localhost that resolve only to 127.x (from /etc/hosts)."""
    names = []
    try:
        with open("/etc/hosts") as f:
            for line in f:
                fields = line.split("#", 1)[0].split()
                if len(fields) >= 2 and fields[0].startswith("127."):
                    names += [n for n in fields[1:] if n != "localhost"]
    except OSError:
        pass
    ok = []
    for n in names:
        try:
            addrs = {a[4][0] for a in socket.getaddrinfo(n, 80, proto=socket.IPPROTO_TCP)}
        except socket.gaierror:
            continue
        if addrs and all(a.startswith("127.") or a == "::1" for a in addrs):
            ok.append(n)
    return ok


def own_address():
    """This host's address on its default route, if it has one (a UDP connect
    sends nothing)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.connect(("192.0.2.1", 9))
            a = u.getsockname()[0]
            return None if a.startswith("127.") else a
    except OSError:
        return None


asked = 0


def rep_of(d, host, port):
    global asked
    asked += 1
    s, rep, _, _ = sgtest.socks_request(d, host, port)
    s.close()
    return rep


def test():
    with sgtest.echo_server() as echo:
        names = loopback_names()
        if names:
            sgtest.log("names resolving to loopback: %s" % names)
        else:
            sgtest.log("no host name other than localhost resolves to 127.x here")
        targets = ["127.0.0.1", "localhost"] + names[:1]
        with sgtest.Daemon(["auth = none", "allow to any"], loopback_targets=False) as d:
            before = echo.conns
            for host in targets:
                assert rep_of(d, host, echo.port) == 0x02, host
            if sgtest.have_ipv6():
                assert rep_of(d, "::1", echo.port) == 0x02
                assert rep_of(d, "::ffff:127.0.0.1", echo.port) == 0x02
            for host in ("169.254.169.254", "0.0.0.0", "224.0.0.1", "255.255.255.255"):
                assert rep_of(d, host, 80) == 0x02, host
            own = own_address()
            if own is not None:
                assert rep_of(d, own, 22) == 0x02, own
            else:
                sgtest.log("no non-loopback address: own-address check skipped")
            assert echo.conns == before, "a refused destination was connected to"
            d.wait_log(r"session \d+ ", count=asked)
            recs = d.sessions()
            for r in recs:
                assert r["reason"].startswith("refused by the built-in default policy ("), r
            assert any("(link-local destination)" in r["reason"] for r in recs), recs
            assert any("(multicast destination)" in r["reason"] for r in recs), recs
            if own is not None:
                assert any("(the gateway's own address)" in r["reason"] for r in recs), recs

        with sgtest.Daemon(["auth = none", "allow to 127.0.0.0/8"],
                           loopback_targets=False) as d:
            for host in targets:
                s, rep, _, _ = sgtest.socks_request(d, host, echo.port)
                assert rep == 0, (host, rep)
                s.sendall(b"x")
                assert sgtest.recv_exact(s, 1) == b"x"
                s.close()
            assert rep_of(d, "169.254.169.254", 80) == 0x02


sgtest.main(test)
