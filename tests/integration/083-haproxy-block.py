#!/usr/bin/python3
"""The login-failure block behind a real HAProxy: repeated wrong passwords
from curl on 127.0.0.6 block 127.0.0.6 on the instances that saw them, and
127.0.0.7, behind the same balancer address, still logs in; the fail2ban
lines name the client, never the balancer. The block is per instance: each
counts the failures it saw (docs/scale-out.md says how a fleet handles it)."""
import re

import sgproxy
import sgtest

LIMIT = 2


def conf():
    return ["auth = pam", "auth_fail_delay = 0", "auth_fail_limit = %d" % LIMIT,
            "auth_block_time = 1h", "auth_cache_ttl = 0"]


def login(ha, web, source, password):
    rc, body = sgproxy.curl(ha.port, "http://127.0.0.1:%d/" % web.port, source=source,
                            user="alice", password=password)
    return rc == 0 and body == b"hello from the target\n"


def blocked(d):
    return re.search(r"blocking 127\.0\.0\.6 for 3600 s", d.log()) is not None


def test():
    sgproxy.require_haproxy()
    env = sgtest.pam_wrapper_env({"alice": "right"})
    with sgproxy.http_server() as web, sgproxy.proxy_daemon(conf(), env=env) as a, \
            sgproxy.proxy_daemon(conf(), env=env) as b, \
            sgproxy.HAProxy([("a", a.port), ("b", b.port)]) as ha:
        assert login(ha, web, "127.0.0.6", "right"), "the right password was refused"
        tries = 0
        while not (blocked(a) and blocked(b)):
            assert tries < 4 * LIMIT, "not blocked on both instances after %d failures" % tries
            assert not login(ha, web, "127.0.0.6", "wrong"), "a wrong password was accepted"
            tries += 1
        sgtest.log("127.0.0.6 blocked on both instances after %d failures" % tries)
        for _ in range(4):
            assert not login(ha, web, "127.0.0.6", "right"), "a blocked client got in"
            assert login(ha, web, "127.0.0.7", "right"), "127.0.0.7 shares the block"
        for d in (a, b):
            log = d.log()
            assert re.search(r"authentication failure for alice from 127\.0\.0\.6$", log, re.M), log
            assert not re.search(r"(failure for alice from|blocking) 127\.0\.0\.1\b", log), log
            assert not re.search(r"blocking 127\.0\.0\.7", log), log
            for r in d.sessions():
                assert r["client"].split(":")[0] in ("127.0.0.6", "127.0.0.7"), r
                assert r["via"].startswith("127.0.0.1:"), r
                if r["client"].startswith("127.0.0.7:"):
                    assert r["reply"].startswith("0x00"), r


sgtest.main(test)
