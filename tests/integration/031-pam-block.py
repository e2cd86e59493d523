#!/usr/bin/python3
"""After auth_fail_limit failures within auth_fail_window, the client address
is refused at the greeting (0xFF) even with the right password, with one log
line when the block starts, and admitted again after auth_block_time."""
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


sgtest.main(test)
