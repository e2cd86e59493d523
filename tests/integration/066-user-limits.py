#!/usr/bin/python3
"""Per-user and gateway-wide limits refuse the request (0x02) after
authentication while others go on: with max_sessions_per_user = 2 alice's
third session is refused and bob is served; with max_sessions = 3 a fourth
session of anyone is refused until one ends. Each refusal has its reason in
the session record and a (rate-limited) warning."""
import sgtest


def session(d, user, echo, want=0):
    s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port, user=user,
                                        password="pw-" + user)
    assert rep == want, "%s: reply 0x%02x, expected 0x%02x" % (user, rep, want)
    if rep != 0:
        assert sgtest.closed_by_peer(s)
        s.close()
        return None
    s.sendall(b"a")
    assert sgtest.recv_exact(s, 1) == b"a"
    return s


def test():
    env = sgtest.pam_wrapper_env({"alice": "pw-alice", "bob": "pw-bob"})
    conf = ["auth = pam", "auth_fail_delay = 0", "max_sessions_per_user = 2",
            "max_sessions = 3"]
    with sgtest.echo_server() as echo, sgtest.Daemon(conf, env=env) as d:
        a1 = session(d, "alice", echo)
        a2 = session(d, "alice", echo)
        session(d, "alice", echo, 0x02)
        d.wait_log(r"refusing a request of alice from 127\.0\.0\.1: that user is at "
                   r"max_sessions_per_user \(2\)")
        b1 = session(d, "bob", echo)
        session(d, "bob", echo, 0x02)		# the gateway is full
        d.wait_log(r"refusing a request from 127\.0\.0\.1: the gateway is at max_sessions \(3\)")
        a1.close()
        d.wait_log(r"session \d+ .*user=alice .*reply=0x00", count=1)
        b2 = session(d, "bob", echo)
        for s in (a2, b1, b2):
            s.sendall(b"q")
            assert sgtest.recv_exact(s, 1) == b"q"
            s.close()
        d.wait_log(r"session \d+ ", count=6)
        reasons = [r["reason"] for r in d.sessions() if r["reply"].startswith("0x02")]
        assert reasons == ["over max_sessions_per_user (2)", "over max_sessions (3)"], reasons
        # Every count is released: the freed slots serve new sessions.
        for _ in range(3):
            session(d, "alice", echo).close()


sgtest.main(test)
