#!/usr/bin/python3
"""The per-address block holds for connections greeted before it started
(issue 11): 20 connections greet (and get method 0x02) before any failure;
5 failed logins on other connections start the block; then the pre-greeted
connections send their credentials, wrong ones and the right one: every one
gets status 0x01 after auth_fail_delay, and none reaches PAM (pam_exec
counts the calls)."""
import sgauth
import sgtest

N = 20
LIMIT = 5
RIGHT = 10  # the pre-greeted connection that sends the right password
DELAY = 0.1


def test():
    calls = sgauth.PamCalls()
    env = sgtest.pam_wrapper_env({"alice": "Pw-good-1"}, extra_auth=calls.lines)
    conf = ["auth = pam", "auth_fail_delay = 100ms", "auth_fail_limit = %d" % LIMIT,
            "auth_fail_window = 1h", "auth_block_time = 1h", "handshake_timeout = 60s"]
    with sgtest.Daemon(conf, env=env) as d:
        early = []
        try:
            for i in range(N):
                s = sgtest.connect_proxy(d, 30)
                early.append(s)
                m = sgtest.greet(s, b"\x02")
                sgtest.check(m == 2, "pre-greeted connection %d: method 0x%02x" % (i, m))
            sgtest.check(calls.counts() == (0, 0), "PAM ran before any login: %r" % (
                calls.counts(),))

            for i in range(LIMIT):
                st, _ = sgauth.attempt(d, "alice", "Pw-wrong-%d" % i)
                sgtest.check(st == 1, "failure %d: status %r" % (i + 1, st))
            d.wait_log(r"blocking 127\.0\.0\.1 for \d+ s after %d authentication failures" %
                       LIMIT)
            sgtest.check(calls.counts() == (LIMIT, 0), "PAM calls %r after %d failures" % (
                calls.counts(), LIMIT))
            st, _ = sgauth.attempt(d, "alice", "Pw-good-1")
            sgtest.check(st == "blocked", "a new connection was not refused at the greeting: "
                         "%r" % (st,))

            results = []
            for i, s in enumerate(early):
                password = "Pw-good-1" if i == RIGHT else "Pw-late-%d" % i
                results.append(sgauth.credentials(s, "alice", password, timeout=15))
        finally:
            for s in early:
                s.close()
        got = calls.counts()
        sgtest.log("pre-greeted: %s; PAM calls %r" % (
            ", ".join("0x%02x in %.3f s" % r for r in results), got))
        sgtest.check(results[RIGHT][0] == 1, "the right password on a connection greeted "
                     "before the block was accepted (0x%02x) while the address is blocked" %
                     results[RIGHT][0])
        bad = [(i, st) for i, (st, _) in enumerate(results) if st != 1]
        sgtest.check(not bad, "pre-greeted connections not refused with 0x01: %r" % bad)
        sgtest.check(got == (LIMIT, 0), "the pre-greeted connections reached PAM after the "
                     "block started: %d pam_authenticate and %d pam_acct_mgmt calls, expected "
                     "%d and 0" % (got[0], got[1], LIMIT))
        slow = [(i, round(t, 3)) for i, (_, t) in enumerate(results) if t < DELAY - 0.03]
        sgtest.check(not slow, "blocked failures answered before auth_fail_delay: %r" % slow)
        # Still one block, and still blocked.
        sgtest.check(len(d.wait_log(r"blocking 127\.0\.0\.1")) == 1, "more than one block line")
        st, _ = sgauth.attempt(d, "alice", "Pw-good-1")
        sgtest.check(st == "blocked", "not blocked at the end: %r" % (st,))


sgtest.main(test)
