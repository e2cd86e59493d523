#!/usr/bin/python3
"""The credential cache (issue 11), with pam_wrapper + pam_matrix and
pam_exec lines that count every pam_authenticate and pam_acct_mgmt call:
a repeated login does not reach pam_authenticate again but still reaches
pam_acct_mgmt; a wrong password for a cached user goes to PAM, fails with
the usual auth_fail_delay and leaves the entry alone; a reload (SIGHUP)
flushes the cache; auth_cache_ttl = 0 turns it off, a short TTL expires;
auth_cache_size bounds it, least recently used first; logins with the same
credentials arriving together run PAM once (single-flight); the session
record says auth=pam or auth=cache; -t prints the new settings."""
import os
import re
import signal
import tempfile
import threading
import time

import sgauth
import sgtest

DELAY = 0.4
BASE = ["auth = pam", "auth_fail_delay = 400ms", "auth_fail_limit = 0"]
USER, PASSWORD = "alice", "Pw-alice-1"


class Steps:
    """Logins against one daemon, checking the PAM call counts after each;
    the session records' auth= keys are checked at the end (check_records),
    so that a missing cache is reported as such, before a missing key."""

    def __init__(self, d, calls):
        self.d = d
        self.calls = calls
        self.records = []
        self.base = calls.counts()

    def expect(self, auth, account, what):
        """The calls since this Steps was made are auth and account."""
        now = self.calls.counts()
        got = (now[0] - self.base[0], now[1] - self.base[1])
        sgtest.check(got == (auth, account),
                     "%s: PAM calls (pam_authenticate, pam_acct_mgmt) = %r, expected %r" % (
                         what, got, (auth, account)))

    def login(self, via, what, calls=None, user=USER, password=PASSWORD):
        """A login that must succeed, its record to say auth=via; calls, when
        given, is what expect() must find after it."""
        st, _, rec = sgauth.attempt_record(self.d, user, password)
        sgtest.check(st == 0, "%s: login refused (0x%02x): %r" % (what, st, rec))
        self.records.append((what, via, rec))
        if calls is not None:
            self.expect(calls[0], calls[1], what)

    def check_records(self):
        bad = [(what, via, rec) for what, via, rec in self.records if rec.get("auth") != via]
        sgtest.check(not bad, "session records without the expected auth= key:\n" +
                     "\n".join("  %s: expected auth=%s in %r" % b for b in bad))


def cache_and_reload(env, calls):
    with sgtest.Daemon(BASE, env=env) as d:
        st = Steps(d, calls)
        st.login("pam", "first login", (1, 1))
        for i in range(5):
            st.login("cache", "repeated login %d (a cache hit skips pam_authenticate, runs "
                     "pam_acct_mgmt)" % (i + 1), (1, 2 + i))

        # A wrong password for the cached user: PAM, the usual delay, a failure.
        status, took, _ = sgauth.attempt_record(d, USER, "Pw-wrong-1")
        sgtest.check(status == 1, "wrong password for a cached user: status 0x%02x" % status)
        sgtest.check(took >= DELAY - 0.03, "wrong password for a cached user answered after "
                     "%.3f s, auth_fail_delay is %.1f s" % (took, DELAY))
        st.expect(2, 6, "wrong password for a cached user (must reach pam_authenticate)")
        d.wait_log(r"authentication failure for alice from 127\.0\.0\.1$")
        # ... which neither evicted nor replaced the entry.
        st.login("cache", "login after the wrong password (still cached)", (2, 7))

        # A reload flushes the cache.
        d.rewrite(BASE)
        d.signal(signal.SIGHUP)
        d.wait_log(r"configuration reloaded")
        st.login("pam", "first login after the reload (cache flushed)", (3, 8))
        st.login("cache", "second login after the reload", (3, 9))
        st.check_records()


def cache_off_and_ttl(env, calls):
    with sgtest.Daemon(BASE + ["auth_cache_ttl = 0"], env=env) as d:
        st = Steps(d, calls)
        for i in range(3):
            st.login("pam", "auth_cache_ttl = 0, login %d" % (i + 1), (i + 1, i + 1))
        st.check_records()

    with sgtest.Daemon(BASE + ["auth_cache_ttl = 1s"], env=env) as d:
        st = Steps(d, calls)
        st.login("pam", "auth_cache_ttl = 1s, first login", (1, 1))
        st.login("cache", "auth_cache_ttl = 1s, at once again", (1, 2))
        time.sleep(1.3)
        st.login("pam", "auth_cache_ttl = 1s, 1.3 s later (the entry expired)", (2, 3))
        st.check_records()


def cache_size(env, calls):
    with sgtest.Daemon(BASE + ["auth_cache_size = 2"], env=env) as d:
        st = Steps(d, calls)
        pw = {"bob": "Pw-bob-1", "carol": "Pw-carol-1"}
        pw[USER] = PASSWORD
        order = [(USER, "pam"), ("bob", "pam"), (USER, "cache"),
                 ("carol", "pam"),        # the cache is full: bob, least recently used, goes
                 (USER, "cache"), ("bob", "pam")]
        want = {u: calls.count("auth", u) for u in pw}
        for i, (u, via) in enumerate(order):
            st.login(via, "auth_cache_size = 2, login %d (%s)" % (i + 1, u), None, u, pw[u])
            want[u] += via == "pam"
            got = {x: calls.count("auth", x) for x in pw}
            sgtest.check(got == want, "auth_cache_size = 2, after login %d (%s, expected %s): "
                         "pam_authenticate calls per user %r, expected %r" % (
                             i + 1, u, via, got, want))
        st.check_records()


def single_flight():
    n = 10
    slow = sgauth.PamCalls(auth_sleep=1)
    env = sgtest.pam_wrapper_env({USER: PASSWORD}, extra_auth=slow.lines)
    with sgtest.Daemon(["auth = pam", "auth_fail_limit = 0", "handshake_timeout = 30s"],
                       env=env) as d:
        barrier = threading.Barrier(n)
        results = [None] * n

        def one(i):
            try:
                s = sgtest.connect_proxy(d, 30)
                with s:
                    sgtest.check(sgtest.greet(s, b"\x02") == 2, "method")
                    barrier.wait(20)   # every client sends its credentials at once
                    results[i] = sgauth.credentials(s, USER, PASSWORD, 30)[0]
            except BaseException as e:  # noqa: BLE001 - reported by the main thread
                results[i] = e
                barrier.abort()

        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(40)
        sgtest.check(not any(t.is_alive() for t in threads), "logins still running after 40 s")
        sgtest.check(results == [0] * n, "simultaneous logins: %r" % results)
        got = slow.count("auth")
        sgtest.check(got == 1, "%d logins with the same credentials at once ran "
                     "pam_authenticate %d times (single-flight: once)" % (n, got))
        sgtest.check(slow.count("account") == n, "pam_acct_mgmt calls %d, expected %d" % (
            slow.count("account"), n))


def check_config_prints():
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, "c.conf")
        for lines, want in (
                (["auth_max_parallel = 3", "auth_cache_ttl = 90s", "auth_cache_size = 77"],
                 [r"^auth_max_parallel = 3$", r"^auth_cache_ttl = 90s$",
                  r"^auth_cache_size = 77$"]),
                ([], [r"^#? ?auth_max_parallel\b", r"^auth_cache_ttl = 5m$",
                      r"^auth_cache_size = \d+$"])):
            with open(conf, "w") as f:
                f.write("\n".join(["listen = 127.0.0.1:1080", "auth = pam"] + lines) + "\n")
            r = sgtest.run([sgtest.SOCKSGATE, "-t", "-c", conf], timeout=10)
            out = r.stdout.decode(errors="replace")
            sgtest.check(r.returncode == 0, "-t refused %r: %s" % (
                lines, r.stderr.decode(errors="replace")))
            for pat in want:
                sgtest.check(re.search(pat, out, re.M), "-t with %r does not print %r:\n%s" % (
                    lines, pat, out))


def test():
    calls = sgauth.PamCalls()
    env = sgtest.pam_wrapper_env({USER: PASSWORD, "bob": "Pw-bob-1", "carol": "Pw-carol-1"},
                                 extra_auth=calls.lines)
    cache_and_reload(env, calls)
    cache_off_and_ttl(env, calls)
    cache_size(env, calls)
    single_flight()
    check_config_prints()


sgtest.main(test)
