#!/usr/bin/python3
"""User rules after PAM authentication (pam_wrapper + pam_matrix): alice may
reach only one port, so another port is refused with 0x02 and the rule's
FILE:LINE; bob, named in the same comma list as carol, reaches both; a user
no rule names meets the final deny."""
import sgtest


def request(d, user, port):
    s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", port, user=user, password="pw-" + user)
    if rep == 0:
        s.sendall(b"hi")
        assert sgtest.recv_exact(s, 2) == b"hi"
    s.close()
    return rep


def test():
    env = sgtest.pam_wrapper_env({u: "pw-" + u for u in ("alice", "bob", "carol", "dave")})
    with sgtest.echo_server() as web, sgtest.echo_server() as other:
        alice = "allow user alice to 127.0.0.1 port %d" % web.port
        bobcarol = "allow user bob,carol to 127.0.0.0/8"
        conf = ["auth = pam", "auth_fail_delay = 0", alice, "deny user alice", bobcarol,
                "deny"]
        with sgtest.Daemon(conf, env=env, loopback_targets=False) as d:
            assert request(d, "alice", web.port) == 0
            assert request(d, "alice", other.port) == 0x02
            assert request(d, "bob", other.port) == 0
            assert request(d, "carol", web.port) == 0
            assert request(d, "dave", web.port) == 0x02
            d.wait_log(r"session \d+ ", count=5)
            recs = {(r["user"], r["addr"]): r for r in d.sessions()}
            r = recs[("alice", "127.0.0.1:%d" % other.port)]
            assert r["reason"] == "refused by rule %s:%d" % (d.conf, d.line_of("deny user alice")), r
            r = recs[("dave", "127.0.0.1:%d" % web.port)]
            assert r["reason"] == "refused by rule %s:%d" % (d.conf, d.line_of("deny")), r


sgtest.main(test)
