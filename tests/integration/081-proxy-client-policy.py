#!/usr/bin/python3
"""Behind a balancer the header's source is the client for every decision:
a client rule refusing it closes that client only (logged, no record, as at
accept), max_sessions_per_client counts per header source (not per balancer)
and gives the slot back to the right address, repeated wrong passwords
block the header's address and not another client of the same balancer,
the fail2ban line names it, and PAM sees it as PAM_RHOST (pam_exec)."""
import os
import re

import sgproxy
import sgtest

PAM_EXEC = "/lib/x86_64-linux-gnu/security/pam_exec.so"


def attempt(d, src, user=None, password=None, data_echo=None):
    """One connection from the balancer with src in its header. Returns
    "closed" (nothing answered), "blocked" (0xFF), "failed", "ok", or the
    open socket when data_echo is an echo port (CONNECT done)."""
    s = sgproxy.balancer_socket(d)
    s.sendall(sgproxy.v1(src, 40000, "127.0.0.1", d.port))
    methods = b"\x02" if user is not None else b"\x00"
    try:
        s.sendall(b"\x05\x01" + methods)
        s.settimeout(5)
        r = s.recv(2)
    except (ConnectionResetError, BrokenPipeError):
        r = b""
    if r == b"":
        s.close()
        return "closed"
    if r[1] == 0xFF:
        s.close()
        return "blocked"
    if user is not None:
        ok = sgtest.userpass(s, user, password) == b"\x01\x00"
        if not ok or data_echo is None:
            s.close()
            return "ok" if ok else "failed"
    s.sendall(b"\x05\x01\x00" + sgtest.encode_addr("127.0.0.1", data_echo))
    rep, _, _ = sgtest.read_reply(s)
    assert rep == 0, rep
    s.sendall(b"x")
    assert sgtest.recv_exact(s, 1) == b"x"
    return s


def test_rules_and_limits(echo):
    conf = ["auth = none", "allow_unauthenticated = yes", "max_sessions_per_client = 1",
            "deny from 192.0.2.66", "allow from 192.0.2.0/24", "deny from any"]
    with sgproxy.proxy_daemon(conf) as d:
        assert attempt(d, "192.0.2.66") == "closed"
        d.wait_log(r"closing connection from 192\.0\.2\.66: refused by client rule %s:%d$" % (
            re.escape(d.conf), d.line_of("deny from 192.0.2.66")))
        # Outside every allowed network: the catch-all refuses it (its log
        # line is held back by the rate limit).
        assert attempt(d, "198.51.100.1") == "closed"
        a = attempt(d, "192.0.2.67", data_echo=echo.port)
        # The balancer is one address; its clients each have their slot.
        b = attempt(d, "192.0.2.68", data_echo=echo.port)
        assert attempt(d, "192.0.2.67") == "closed", "second session of 192.0.2.67 served"
        d.wait_log(r"closing connection from 192\.0\.2\.67: that address is at "
                   r"max_sessions_per_client \(1\)")
        a.close()
        d.wait_log(r"session \d+ ", count=1)
        c = attempt(d, "192.0.2.67", data_echo=echo.port)  # its slot came back
        b.close()
        c.close()
        d.wait_log(r"session \d+ ", count=3)
        clients = sgproxy.clients_of(d)
        assert sorted(clients) == ["192.0.2.67", "192.0.2.67", "192.0.2.68"], d.log()


def test_block_and_rhost():
    rhost = os.path.join(os.environ.get("TMPDIR", "/tmp"), "socksgate-rhost-%d" % os.getpid())
    script = rhost + ".sh"
    extra = []
    if os.path.exists(PAM_EXEC):
        with open(script, "w") as f:
            f.write('#!/bin/sh\necho "$PAM_RHOST" >> "%s"\n' % rhost)
        os.chmod(script, 0o755)
        extra = ["auth optional %s quiet %s" % (PAM_EXEC, script)]
    else:
        sgtest.log("pam_exec.so not found: PAM_RHOST not checked")
    try:
        env = sgtest.pam_wrapper_env({"alice": "right"}, extra_auth=extra)
        conf = ["auth = pam", "auth_fail_delay = 0", "auth_fail_limit = 2",
                "auth_block_time = 1h", "auth_cache_ttl = 0"]
        with sgproxy.proxy_daemon(conf, env=env) as d:
            assert attempt(d, "192.0.2.20", "alice", "right") == "ok"
            for _ in range(2):
                assert attempt(d, "192.0.2.20", "alice", "wrong") == "failed"
            assert attempt(d, "192.0.2.20", "alice", "right") == "blocked"
            d.wait_log(r"blocking 192\.0\.2\.20 for 3600 s")
            # Another client of the same balancer is not blocked.
            assert attempt(d, "192.0.2.21", "alice", "right") == "ok"
            log = d.log()
            assert len(re.findall(r"authentication failure for alice from 192\.0\.2\.20$", log,
                                  re.M)) == 2, log
            assert not re.search(r"blocking 127\.|failure for alice from 127\.", log), log
            d.wait_log(r"session \d+ ", count=5)
        if extra:
            with open(rhost) as f:
                seen = f.read().split()
            assert seen == ["192.0.2.20"] * 3 + ["192.0.2.21"], "PAM_RHOST was %r" % seen
    finally:
        for p in (script, rhost):
            try:
                os.unlink(p)
            except OSError:
                pass


def test():
    with sgtest.echo_server() as echo:
        test_rules_and_limits(echo)
    test_block_and_rhost()


sgtest.main(test)
