#!/usr/bin/python3
"""Happy Eyeballs for CONNECT, in a network namespace of the test's own with a
test name in a private /etc/hosts: a name with six addresses whose first five
do not answer (listeners with a full accept backlog drop the SYNs) connects
about one connect_stagger per dead address in, well within connect_timeout;
a name whose addresses all hang ends at connect_timeout (the whole request's
budget, not each address's) with 0x06; refused beats timed out in the
reply; IPv6 is tried first unless prefer_family = ipv4; a client that closes
while the attempts run ends its session at once, and the record says so."""
import time

import sgnet
import sgtest

NAME, ALLDEAD, MIXED, REFUSED = ("he-six.test", "he-dead.test", "he-mixed.test",
                                 "he-refused.test")


def record_of(d, n):
    d.wait_log(r"session \d+ ", count=n)
    return d.last_session()


def duration(rec):
    return float(rec["duration"].rstrip("s"))


def test():
    sgnet.isolate()
    port = sgtest.free_port()
    dead = ["127.0.0.%d" % i for i in range(2, 7)]
    lines = ["%s %s" % (a, NAME) for a in dead] + ["127.0.0.7 " + NAME]
    lines += ["%s %s" % (a, ALLDEAD) for a in dead[:3]]
    lines += ["::1 " + MIXED, "127.0.0.8 " + MIXED]
    lines += ["127.0.0.2 " + REFUSED, "127.0.0.9 " + REFUSED]
    live = sgtest.Server(sgtest.echo_handler, "127.0.0.7", port)
    v6 = sgnet.peer_server("::1", port, own=True)
    v4 = sgnet.peer_server("127.0.0.8", port, own=True)
    n = 0
    with sgnet.hosts(lines), sgnet.dead(dead, port), live, v6, v4:
        conf = ["auth = none", "connect_timeout = 3s", "connect_stagger = 250ms"]
        with sgtest.Daemon(conf) as d:
            # Five dead addresses, one stagger each, then the live one.
            s, rep, t = sgnet.timed_request(d, NAME, port)
            n += 1
            sgtest.log("six addresses, five dead: reply 0x%02x after %.3fs" % (rep, t))
            assert rep == 0, rep
            assert 1.0 <= t < 2.2, t
            s.sendall(b"hello")
            assert sgtest.recv_exact(s, 5) == b"hello"
            s.close()
            assert live.conns == 1, live.conns

            # Every address hangs: connect_timeout bounds the whole request.
            s, rep, t = sgnet.timed_request(d, ALLDEAD, port)
            n += 1
            s.close()
            sgtest.log("three dead addresses: reply 0x%02x after %.3fs" % (rep, t))
            assert rep == 0x06, rep
            assert 2.8 <= t < 4.0, t
            rec = record_of(d, n)
            assert "3 addresses tried" in rec["reason"], rec

            # One refuses, one hangs: the reply tells the refusal.
            s, rep, t = sgnet.timed_request(d, REFUSED, port)
            n += 1
            s.close()
            assert rep == 0x05, rep

            # IPv6 first by default.
            s, rep, _ = sgnet.timed_request(d, MIXED, port)
            n += 1
            assert rep == 0, rep
            assert sgtest.recv_exact(s, 4) == b"::1\n"
            s.close()

            # The client leaves while the attempts run: the session ends
            # at once, the worker is free again.
            c = sgtest.connect_proxy(d)
            assert sgtest.greet(c) == 0
            c.sendall(b"\x05\x01\x00" + sgtest.encode_addr(ALLDEAD, port))
            time.sleep(0.4)
            c.close()
            n += 1
            rec = record_of(d, n)
            sgtest.log("client gone: %r" % rec)
            assert rec["reason"].startswith("client closed while connecting"), rec
            assert duration(rec) < 1.2, rec
            assert rec["reply"] == "-", rec

        with sgtest.Daemon(conf + ["prefer_family = ipv4"]) as d:
            s, rep, _ = sgnet.timed_request(d, MIXED, port)
            assert rep == 0, rep
            assert sgtest.recv_exact(s, 10) == b"127.0.0.8\n"
            s.close()


sgtest.main(test)
