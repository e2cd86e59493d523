#!/usr/bin/python3
"""After auth_fail_limit failures within auth_fail_window, the client address
is refused at the greeting (0xFF) even with the right password, with one log
line when the block starts, and admitted again after auth_block_time. A
reload that sets auth_fail_limit = 0 lifts a block at once. A broken PAM
stack (a module that does not exist) is an error for the operator, not a
failure of the client: no fail2ban line, no count towards a block."""
import re
import signal
import time

import sgtest


def attempt(d, password):
    s = sgtest.connect_proxy(d)
    m = sgtest.greet(s, b"\x02")
    if m != 2:
        s.close()
        return "blocked" if m == 0xFF else "method %d" % m
    r = sgtest.userpass(s, "alice", password)
    s.close()
    return "ok" if r == b"\x01\x00" else "failed"


def test():
    env = sgtest.pam_wrapper_env({"alice": "right"})
    with sgtest.Daemon(["auth = pam", "auth_fail_delay = 0", "auth_fail_limit = 3",
                        "auth_fail_window = 60s", "auth_block_time = 2s"], env=env) as d:
        assert attempt(d, "right") == "ok"
        for _ in range(3):
            assert attempt(d, "wrong") == "failed"
        t_block = time.monotonic()
        assert attempt(d, "right") == "blocked"
        assert attempt(d, "right") == "blocked"
        lines = d.wait_log(r"blocking 127\.0\.0\.1 for \d+ s after 3 authentication failures")
        assert len(lines) == 1
        while time.monotonic() - t_block < 2.2:
            time.sleep(0.1)
        assert attempt(d, "right") == "ok", "not admitted after the block time"
        assert len(d.wait_log(r"blocking 127\.0\.0\.1")) == 1

    # A reload that disables blocking lifts a block already started.
    with sgtest.Daemon(["auth = pam", "auth_fail_delay = 0", "auth_fail_limit = 2",
                        "auth_block_time = 1h"], env=env) as d:
        for _ in range(2):
            assert attempt(d, "wrong") == "failed"
        assert attempt(d, "right") == "blocked"
        d.rewrite(["auth = pam", "auth_fail_delay = 0", "auth_fail_limit = 0",
                   "auth_block_time = 1h"])
        d.signal(signal.SIGHUP)
        d.wait_log(r"configuration reloaded")
        assert attempt(d, "right") == "ok", "block outlived auth_fail_limit = 0"

    broken = sgtest.pam_wrapper_env({"alice": "right"},
                                    extra_auth=["auth required pam_socksgate_missing.so"])
    with sgtest.Daemon(["auth = pam", "auth_fail_delay = 0", "auth_fail_limit = 2"],
                       env=broken) as d:
        for _ in range(4):
            assert attempt(d, "right") == "failed"  # refused, never blocked
        d.wait_log(r"PAM service '[^']+' failed: ")
        d.wait_log(r"session \d+ ", count=4)
        log = d.log()
        assert not re.search(r"authentication failure for|blocking ", log), log
        # Rate-limited: one error line for the burst, not one per attempt.
        assert len(re.findall(r"PAM service '[^']+' failed", log)) == 1, log
        recs = d.sessions()
        assert len(recs) == 4 and all("pam_authenticate" in r["reason"] for r in recs), recs


sgtest.main(test)
