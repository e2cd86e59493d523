#!/usr/bin/python3
"""The equal-time rule holds for a client that sends its credentials late
(issue 11): it greets, waits longer than auth_fail_delay, then sends them.
Every failure kind (unknown user, wrong password, empty username, NUL in
the username, NUL in the password) must be answered auth_fail_delay after
the credentials, all within the same window, not at once (a timing oracle
telling which users exist)."""
import threading
import time

import sgauth
import sgtest

DELAY = 0.4             # auth_fail_delay
LATE = 0.7              # the wait between the greeting and the credentials
LOW = DELAY - 0.03      # every failure: at least this long after the credentials
HIGH = DELAY + 0.25     # ... and at most this long
ROUNDS = 10

KINDS = [
    ("unknown user", "nosuchuser", "Pw-good-1"),
    ("wrong password", "alice", "Pw-wrong-1"),
    ("empty username", "", "Pw-good-1"),
    ("NUL in the username", b"ali\x00ce", "Pw-good-1"),
    ("NUL in the password", "alice", b"Pw-good-1\x00garbage"),
]


def test():
    env = sgtest.pam_wrapper_env({"alice": "Pw-good-1"})
    conf = ["auth = pam", "auth_fail_delay = 400ms", "auth_fail_limit = 0",
            "handshake_timeout = 20s"]
    with sgtest.Daemon(conf, env=env) as d:
        # The right password, sent late, still gets in.
        status, _ = sgauth.attempt(d, "alice", "Pw-good-1", delay_before=LATE)
        sgtest.check(status == 0, "late login with the right password: 0x%02x" % status)

        times = {k[0]: [] for k in KINDS}
        statuses = {k[0]: [] for k in KINDS}
        lock = threading.Lock()

        def one(kind, user, password):
            try:
                st, took = sgauth.attempt(d, user, password, delay_before=LATE, timeout=15)
            except BaseException as e:  # noqa: BLE001 - reported below
                st, took = repr(e), None
            with lock:
                statuses[kind].append(st)
                if took is not None:
                    times[kind].append(took)

        # One connection per kind at a time, the kinds side by side.
        t0 = time.monotonic()
        for _ in range(ROUNDS):
            threads = [threading.Thread(target=one, args=k, daemon=True) for k in KINDS]
            for t in threads:
                t.start()
            for t in threads:
                t.join(20)
            sgtest.check(not any(t.is_alive() for t in threads), "an attempt hung")
        sgtest.log("%d rounds in %.1f s" % (ROUNDS, time.monotonic() - t0))

        report = "\n".join("  %-20s statuses %s; seconds from the credentials to the reply: "
                           "min %.3f max %.3f" % (k, sorted(set(map(str, statuses[k]))),
                                                  min(times[k] or [-1]), max(times[k] or [-1]))
                           for k in times)
        sgtest.log(report)
        errors = [(k, st) for k in statuses for st in statuses[k] if not isinstance(st, int)]
        sgtest.check(not errors, "attempts that broke off: %r" % errors)
        for kind, ts in times.items():
            sgtest.check(min(ts) >= LOW,
                         "%s answered %.3f s after the late credentials: auth_fail_delay %.1f s "
                         "must count from them:\n%s" % (kind, min(ts), DELAY, report))
            sgtest.check(max(ts) <= HIGH,
                         "%s answered %.3f s after the late credentials, more than %.2f s:\n%s" %
                         (kind, max(ts), HIGH, report))
        for kind in times:
            sgtest.check(statuses[kind] == [1] * ROUNDS,
                         "%s: not refused with 0x01 every time:\n%s" % (kind, report))


sgtest.main(test)
