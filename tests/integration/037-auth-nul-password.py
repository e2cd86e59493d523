#!/usr/bin/python3
"""A password containing a NUL byte is refused without reaching PAM (issue
11): C strings would hand PAM only the bytes before the NUL, so
"Pw-good-1\\0garbage" logged in as "Pw-good-1". Refused with 0x01 after
auth_fail_delay, no pam_authenticate call (pam_exec counts them), before and
after the right password has logged in (and may be cached); the right
password still works; nothing after the NUL reaches the log."""
import sgauth
import sgtest

DELAY = 0.2
PASSWORD = b"Pw-good-1"
WITH_NUL = [PASSWORD + b"\x00garbage", PASSWORD + b"\x00", b"\x00" + PASSWORD]


def refused_without_pam(d, calls, when):
    before = calls.counts()
    for pw in WITH_NUL:
        st, took = sgauth.attempt(d, "alice", pw)
        sgtest.check(st == 1, "%s: password %r: status 0x%02x, expected 0x01" % (when, pw, st))
        sgtest.check(took >= DELAY - 0.03, "%s: password %r refused after %.3f s, before "
                     "auth_fail_delay (%.1f s)" % (when, pw, took, DELAY))
    got = calls.counts()
    sgtest.check(got == before, "%s: passwords with a NUL byte reached PAM: calls %r -> %r" % (
        when, before, got))


def test():
    calls = sgauth.PamCalls()
    env = sgtest.pam_wrapper_env({"alice": PASSWORD}, extra_auth=calls.lines)
    with sgtest.Daemon(["auth = pam", "auth_fail_delay = 200ms", "auth_fail_limit = 0"],
                       env=env) as d:
        refused_without_pam(d, calls, "before any login")
        st, _ = sgauth.attempt(d, "alice", PASSWORD)
        sgtest.check(st == 0, "the right password was refused: 0x%02x" % st)
        sgtest.check(calls.count("auth") == 1, "the right password did not reach PAM once: %r" %
                     (calls.counts(),))
        refused_without_pam(d, calls, "after the right password logged in")
        st, _ = sgauth.attempt(d, "alice", PASSWORD)
        sgtest.check(st == 0, "the right password was refused the second time: 0x%02x" % st)
        d.wait_log(r"session \d+ ", count=2 * len(WITH_NUL) + 2)  # every record is out
        sgtest.check("garbage" not in d.log(), "bytes of a password reached the log")


sgtest.main(test)
