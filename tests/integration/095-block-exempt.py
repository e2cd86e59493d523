#!/usr/bin/python3
"""auth_block_exempt: an address inside an exempt network is never blocked
however often its logins fail (and still gets its fail2ban line), while an
address outside one is blocked as before; a reload that exempts a blocked
address lets it in at once; -t prints the list; a bad network is an error
with its FILE:LINE."""
import re
import signal

import sgtest

EXEMPT = "127.0.0.2"      # inside 127.0.0.2/31 below
ALSO_EXEMPT = "127.0.0.3"
OTHER = "127.0.0.4"


def attempt(d, password, source):
    s = sgtest.connect_proxy(d, source=source)
    with s:
        m = sgtest.greet(s, b"\x02")
        if m != 2:
            return "blocked" if m == 0xFF else "method %d" % m
        return "ok" if sgtest.userpass(s, "alice", password) == b"\x01\x00" else "failed"


def test():
    env = sgtest.pam_wrapper_env({"alice": "right"})
    conf = ["auth = pam", "auth_fail_delay = 0", "auth_fail_limit = 3",
            "auth_block_time = 1h", "auth_block_exempt = 127.0.0.2/31, 2001:db8::/32"]
    with sgtest.Daemon(conf, env=env) as d:
        for _ in range(10):
            assert attempt(d, "wrong", EXEMPT) == "failed"
            assert attempt(d, "wrong", ALSO_EXEMPT) == "failed"
        assert attempt(d, "right", EXEMPT) == "ok", "an exempt address was blocked"
        assert attempt(d, "right", ALSO_EXEMPT) == "ok", "an exempt address was blocked"
        for _ in range(3):
            assert attempt(d, "wrong", OTHER) == "failed"
        assert attempt(d, "right", OTHER) == "blocked", "the block no longer works"
        d.wait_log(r"blocking 127\.0\.0\.4 for ")
        log = d.log()
        assert not re.search(r"blocking 127\.0\.0\.[23]", log), log
        # Exempt or not, every failure is logged for fail2ban.
        assert len(re.findall(r"authentication failure for alice from 127\.0\.0\.[23]$",
                              log, re.M)) == 20, log

        # A reload that exempts the blocked address lifts its block.
        d.rewrite(conf + ["auth_block_exempt = 127.0.0.4"])
        d.signal(signal.SIGHUP)
        d.wait_log(r"configuration reloaded")
        assert attempt(d, "right", OTHER) == "ok", "the reload did not exempt 127.0.0.4"
        for _ in range(5):
            assert attempt(d, "wrong", OTHER) == "failed"
        assert attempt(d, "right", OTHER) == "ok"

        r = sgtest.run([sgtest.SOCKSGATE, "-t", "-c", d.conf])
        out = r.stdout.decode()
        assert r.returncode == 0, r.stderr.decode()
        assert "auth_block_exempt = 127.0.0.2/31, 2001:db8::/32, 127.0.0.4\n" in out, out

        bad = "auth_block_exempt = 10.0.0.0/8, 127.0.0.1/8"
        d.rewrite(conf + [bad])
        r = sgtest.run([sgtest.SOCKSGATE, "-t", "-c", d.conf])
        err = r.stderr.decode()
        assert r.returncode == 1, err
        assert "%s:%d: auth_block_exempt: '127.0.0.1/8'" % (d.conf, d.line_of(bad)) in err, err

sgtest.main(test)
