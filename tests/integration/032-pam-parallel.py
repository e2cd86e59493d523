#!/usr/bin/python3
"""Logins on different workers run at the same time: with a PAM stack whose
auth step takes 0.5 s (pam_exec running a sleeping script), 20 simultaneous
logins finish in far less than 20 x 0.5 s."""
import os
import threading
import time

import sgtest

N = 20
PAM_EXEC = "/lib/x86_64-linux-gnu/security/pam_exec.so"


def test():
    if not os.path.exists(PAM_EXEC):
        sgtest.skip("pam_exec.so not found")
    script = os.path.join(os.environ.get("TMPDIR", "/tmp"), "socksgate-slow-%d.sh" % os.getpid())
    with open(script, "w") as f:
        f.write("#!/bin/sh\nsleep 0.5\nexit 0\n")
    os.chmod(script, 0o755)
    try:
        env = sgtest.pam_wrapper_env({"alice": "pw"},
                                     extra_auth=["auth required %s %s" % (PAM_EXEC, script)])
        with sgtest.echo_server() as echo, sgtest.Daemon(["auth = pam"], env=env) as d:
            results = []

            def one():
                try:
                    s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port, user="alice",
                                                        password="pw", timeout=30)
                    s.sendall(b"ping")
                    results.append(rep == 0 and sgtest.recv_exact(s, 4) == b"ping")
                    s.close()
                except Exception as e:  # noqa: BLE001 - any failure counts as one
                    results.append(e)

            t0 = time.monotonic()
            threads = [threading.Thread(target=one) for _ in range(N)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            elapsed = time.monotonic() - t0
            sgtest.log("%d logins took %.2f s" % (N, elapsed))
            assert results.count(True) == N, results
            assert elapsed < N * 0.5 / 3, "logins were serialised: %.2f s" % elapsed
    finally:
        os.unlink(script)


sgtest.main(test)
