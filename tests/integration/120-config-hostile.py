#!/usr/bin/python3
"""Configuration files that cannot lie: -t -c /dev/zero fails fast and small,
a NUL byte inside a line and a repeated single-valued key are FILE:LINE
errors for -t, and a reload (SIGHUP and socksgatectl reload) with such a file
keeps the old configuration, rules included."""
import os
import re
import signal
import subprocess
import tempfile
import time

import sgtest


def check_t(path, timeout=10):
    """Runs socksgate -t -c path; returns (rc, output, seconds)."""
    t0 = time.monotonic()
    p = subprocess.Popen([sgtest.SOCKSGATE, "-t", "-c", path], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise AssertionError("socksgate -t -c %s still running after %d s" % (path, timeout))
    took = time.monotonic() - t0
    return p.returncode, out.decode(errors="replace"), took


def sanitized():
    """ASan's shadow memory makes any RSS bound meaningless."""
    with open(sgtest.SOCKSGATE, "rb") as f:
        return b"__asan_init" in f.read()


def max_rss_kb(path):
    """The high-water RSS of socksgate -t -c path, from GNU time."""
    r = sgtest.run(["/usr/bin/time", "-f", "RSS=%M", sgtest.SOCKSGATE, "-t", "-c", path],
                   timeout=20)
    m = re.search(rb"RSS=(\d+)", r.stderr)
    return int(m.group(1)) if m else None


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)


def test_check_mode(tmp):
    rc, out, took = check_t("/dev/zero")
    assert rc != 0 and "configuration OK" not in out, out
    assert re.search(r"^/dev/zero:1: file larger than 1048576 bytes", out, re.M), out
    assert took < 5, "-t -c /dev/zero took %.1f s" % took
    if os.access("/usr/bin/time", os.X_OK) and not sanitized():
        rss = max_rss_kb("/dev/zero")
        # A few MiB for the process itself; the old parser grew past 1 GB.
        assert rss is None or rss < 64 * 1024, "-t -c /dev/zero used %d KiB" % rss

    path = os.path.join(tmp, "nul.conf")
    write_bytes(path, b"auth = pam\ndeny to 10.0.0.0/8\0,192.168.0.0/16\n")
    rc, out, _ = check_t(path)
    assert rc != 0 and "configuration OK" not in out, out
    assert re.search(r"^%s:2: NUL byte in the line" % re.escape(path), out, re.M), out

    write_bytes(path, b"auth = pam\n# the same key again\nworkers_min = 2\nworkers_min = 3\n")
    rc, out, _ = check_t(path)
    assert rc != 0, out
    assert re.search(r"^%s:4: 'workers_min' is already set on line 3" % re.escape(path), out,
                     re.M), out

    write_bytes(path, b"auth = pam\n#" + b"x" * 5000 + b"\nworkers_min = 2\n")
    rc, out, _ = check_t(path)
    assert rc != 0, out
    assert re.search(r"^%s:2: line longer than 4096 bytes" % re.escape(path), out, re.M), out

    # The controls: list keys and rules repeat, and the file loads.
    write_bytes(path, b"auth = pam\nlisten = 127.0.0.1:1\nlisten = 127.0.0.1:2\n"
                b"deny to 10.0.0.0/8,192.168.0.0/16\ndeny to 172.16.0.0/12\n")
    rc, out, _ = check_t(path)
    assert rc == 0, out
    assert "192.168.0.0/16" in out, out


def bad_reload(d, data, how, line, message):
    """Writes data as the config, reloads it by how; checks it is refused."""
    write_bytes(d.conf, data)
    if how == "sighup":
        n = len(re.findall(r"reload failed", d.log()))
        d.signal(signal.SIGHUP)
        d.wait_log(r"reload failed with 1 error\(s\); keeping the old configuration",
                   count=n + 1)
    else:
        r = d.ctl("reload")
        assert r.returncode != 0 and "reload refused" in r.stderr, r
    assert re.search(r"%s:%d: %s" % (re.escape(d.conf), line, message), d.log()), d.log()


def test_reload():
    # The old configuration denies 192.168.0.0/16 and allows loopback; every
    # bad file below would drop the deny (NUL), or change a key twice.
    head_rule = "deny to 10.0.0.0/8,192.168.0.0/16"
    with sgtest.echo_server() as echo, sgtest.Daemon(["auth = none", head_rule]) as d:
        head = "\n".join(d.head).encode() + b"\n"
        n = len(d.head)
        tail = ("\n%s\n" % d.LOOPBACK_RULE).encode()
        cases = [
            (head + b"auth = none\ndeny to 10.0.0.0/8\0,192.168.0.0/16" + tail, n + 2,
             "NUL byte in the line"),
            (head + b"auth = none\nauth = pam" + tail, n + 2, "'auth' is already set"),
            (head + b"auth = none\n#" + b"y" * 4097 + tail, n + 2, "line longer than 4096"),
        ]
        for how in ("sighup", "ctl"):
            for data, line, message in cases:
                bad_reload(d, data, how, line, message)
                # Still the old config: no authentication, and loopback served.
                s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port)
                assert rep == 0, "a normal client after a refused reload: reply %r" % rep
                s.close()
                # The deny rule's second network still holds.
                s, rep, _, _ = sgtest.socks_request(d, "192.168.1.1", 9, timeout=10)
                assert rep == 2, "192.168.1.1 after a refused reload: reply %r" % rep
                s.close()
        assert "configuration reloaded" not in d.log(), d.log()
        st = d.ctl_json("status")
        assert st["last_reload"]["applied"] is False, st


def test():
    tmp = tempfile.mkdtemp(prefix="socksgate-test-conf-")
    try:
        test_check_mode(tmp)
    finally:
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)
    test_reload()


sgtest.main(test)
