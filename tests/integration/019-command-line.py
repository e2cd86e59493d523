#!/usr/bin/python3
"""The command line: -V prints the version, -h the usage with every option,
-t checks a configuration (printing it, or every error as FILE:LINE: message),
a named config file must exist, and -l overrides the file's listen addresses."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import types

import sgtest

OPTIONS = [("-c", "--config"), ("-l", "--listen"), ("-a", "--auth"), ("-t", "--check-config"),
           ("-V", "--version"), ("-h", "--help")]


def run(*args):
    r = sgtest.run([sgtest.SOCKSGATE] + list(args), timeout=10)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def package_version():
    path = os.path.join(os.environ.get("TOP_BUILDDIR", ""), "autoconf.h")
    try:
        with open(path) as f:
            m = re.search(r'#define PACKAGE_VERSION "([^"]*)"', f.read())
            return m.group(1) if m else None
    except OSError:
        return None


def duration_ms(v):
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", v)
    assert m, "not a duration: %r" % v
    return int(m.group(1)) * {"ms": 1, "s": 1000, "m": 60000, "h": 3600000,
                              "d": 86400000, None: 1000}[m.group(2)]


def settings(text):
    """key -> list of values from file-syntax text, comments skipped."""
    out = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            k, v = [x.strip() for x in line.split("=", 1)]
            out.setdefault(k, []).append(v)
    return out


def test_version_help(tmp):
    rc, out, err = run("-V")
    assert rc == 0, (rc, err)
    want = package_version()
    if want is not None:
        assert out.strip() == "socksgate " + want, out
    else:
        assert re.fullmatch(r"socksgate \d+\.\d+\S*", out.strip()), out
    rc, out2, _ = run("--version")
    assert rc == 0 and out2 == out, out2

    rc, out, err = run("-h")
    assert rc == 0, (rc, err)
    assert out.startswith("Usage: socksgate"), out
    for short, long in OPTIONS:
        assert re.search(r"^\s+%s, %s\b" % (re.escape(short), re.escape(long)), out, re.M), \
            "usage lacks %s, %s:\n%s" % (short, long, out)
    rc, out2, _ = run("--help")
    assert rc == 0 and out2 == out

    # Misuse: usage on stderr, exit 1, nothing on stdout.
    for args in (["-x"], ["--bogus"], ["stray-argument"], ["-c"]):
        rc, out, err = run(*args)
        assert rc == 1, (args, rc, out, err)
        assert "Usage: socksgate" in err, (args, err)
        assert out == "", (args, out)


def test_check_config(tmp):
    port = sgtest.free_port()
    conf = os.path.join(tmp, "good.conf")
    lines = ["# a good configuration", "listen = 127.0.0.1:%d" % port, "auth = none",
             "workers_min = 3", "workers_max = 9", "queue_length = 17",
             "handshake_timeout = 2s", "connect_timeout = 1500ms", "idle_timeout = 5m",
             "drain_timeout = 0", "log_level = debug"]
    if sgtest.have_ipv6():
        lines.insert(2, "listen = [::1]:%d" % port)
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    rc, out, err = run("-t", "-c", conf)
    assert rc == 0, (rc, out, err)
    s = settings(out)
    want_listen = ["127.0.0.1:%d" % port] + (["[::1]:%d" % port] if sgtest.have_ipv6() else [])
    assert s.get("listen") == want_listen, out
    assert s.get("methods") == ["none"], out  # auth = none, as the effective list
    assert s.get("workers_min") == ["3"] and s.get("workers_max") == ["9"], out
    assert s.get("queue_length") == ["17"], out
    for key, ms in (("handshake_timeout", 2000), ("connect_timeout", 1500),
                    ("idle_timeout", 300000), ("drain_timeout", 0)):
        assert len(s.get(key, [])) == 1 and duration_ms(s[key][0]) == ms, (key, out)
    assert s.get("log_level") == ["debug"], out
    assert "configuration OK" in out, out

    # What -t prints is itself a valid configuration that says the same.
    again = os.path.join(tmp, "again.conf")
    with open(again, "w") as f:
        f.write(out)
    rc, out2, err = run("-t", "-c", again)
    assert rc == 0, (rc, err)
    assert settings(out2) == s, (out, out2)

    # What start would refuse, -t refuses: a user that does not exist, an
    # address listed twice.
    rc, out, err = run("-t", "-c", conf, "-u", "socksgate-no-such-user")
    assert rc == 1 and "socksgate-no-such-user': no such user" in err, (rc, out, err)
    rc, out, err = run("-t", "-c", conf, "-l", "127.0.0.1:%d" % port, "-l", "127.0.0.1:%d" % port)
    assert rc == 1 and "command line" in err and "already listed" in err, (rc, out, err)

    # Command-line overrides show in the check too.
    rc, out, err = run("-t", "-c", conf, "-l", "127.0.0.1:%d" % (port + 1))
    assert rc == 0, (rc, err)
    assert settings(out).get("listen") == ["127.0.0.1:%d" % (port + 1)], out


def test_config_errors(tmp):
    conf = os.path.join(tmp, "bad.conf")
    with open(conf, "w") as f:
        f.write("listen = 127.0.0.1:1080\n"     # 1
                "bogus = 1\n"                   # 2 unknown key
                "workers_max = ten\n"           # 3 bad number
                "\n"                            # 4
                "# comment\n"                   # 5
                "log_level = loud\n"            # 6 bad level
                "idle_timeout = soon\n"         # 7 bad duration
                "no equals sign\n")             # 8
    rc, out, err = run("-t", "-c", conf)
    assert rc == 1, (rc, out, err)
    assert "configuration OK" not in out, out
    got = [int(m) for m in re.findall(r"^%s:(\d+): \S.*$" % re.escape(conf), err, re.M)]
    assert got == [2, 3, 6, 7, 8], err
    for word in ("bogus", "ten", "loud", "soon", "no equals sign"):
        assert word in err, (word, err)

    # The same file without -t: the daemon refuses to start, with the same report.
    rc, out, err2 = run("-c", conf)
    assert rc == 1, (rc, err2)
    assert re.findall(r"^%s:(\d+):" % re.escape(conf), err2, re.M) == \
        [str(n) for n in got], err2

    # A named file must exist.
    missing = os.path.join(tmp, "no-such.conf")
    for args in (["-t", "-c", missing], ["-c", missing]):
        rc, out, err = run(*args)
        assert rc == 1, (args, rc, err)
        assert missing in err, err
        assert "configuration OK" not in out

    # Bad -l values are errors, reported against the command line.
    good = os.path.join(tmp, "ok.conf")
    with open(good, "w") as f:
        f.write("listen = 127.0.0.1:%d\nauth = none\n" % sgtest.free_port())
    for bad in ("127.0.0.1", "localhost:1080", "127.0.0.1:65536", "::1:1080", "[::1]", ""):
        for args in (["-t", "-c", good, "-l", bad], ["-c", good, "--listen", bad]):
            rc, out, err = run(*args)
            assert rc == 1, (args, rc, out, err)
            assert "command line" in err and "listen" in err, (args, err)

    # A directory given as the config file must not pass for an empty file.
    rc, out, err = run("-t", "-c", tmp)
    assert rc == 1, ("-c DIRECTORY", rc, out, err)
    assert tmp in err, err


def test_listen_override():
    echo = sgtest.echo_server()
    v6 = sgtest.have_ipv6()
    p4 = sgtest.free_port()
    p6 = sgtest.free_port(socket.AF_INET6, "::1") if v6 else None
    args = ["-l", "127.0.0.1:%d" % p4]
    if v6:
        args = ["-l", "[::1]:%d" % p6] + args
    try:
        with sgtest.Daemon(["auth = none"], args=args) as d:
            # The file's listen address is replaced, not added to.
            assert sgtest.tcp_refused("127.0.0.1", d.port), "the file's listen address is still bound"
            d.wait_log(r"listening on 127\.0\.0\.1:%d$" % p4)
            targets = [("127.0.0.1", p4)]
            if v6:
                d.wait_log(r"listening on \[::1\]:%d$" % p6)
                targets.append(("::1", p6))
            for host, port in targets:
                d.host, d.port = host, port
                s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port)
                with s:
                    assert rep == 0, (host, rep)
                    s.sendall(b"hello " + host.encode())
                    assert sgtest.recv_exact(s, 6 + len(host)) == b"hello " + host.encode()
            sgtest.log("served on", targets)
    finally:
        echo.close()


def test_closed_std_fds(tmp):
    """Started with stdin, stdout and stderr closed, the daemon must not hand
    those numbers to its sockets: no log line may reach a client."""
    echo = sgtest.echo_server()
    port = sgtest.free_port()
    conf = os.path.join(tmp, "closed.conf")
    with open(conf, "w") as f:
        f.write("listen = 127.0.0.1:%d\nauth = none\nlog_level = debug\n%s\n"
                % (port, sgtest.Daemon.LOOPBACK_RULE))
    proc = subprocess.Popen(["sh", "-c", 'exec "$@" <&- >&- 2>&-', "sh",
                             sgtest.SOCKSGATE, "-c", conf])
    d = types.SimpleNamespace(host="127.0.0.1", port=port)
    try:
        deadline = time.monotonic() + 10
        while sgtest.tcp_refused("127.0.0.1", port):
            assert proc.poll() is None, "the daemon exited with %r" % proc.returncode
            assert time.monotonic() < deadline, "the daemon did not start listening"
            time.sleep(0.05)
        for i in range(4):
            # A bad greeting makes the daemon log while another client is live.
            with socket.create_connection(("127.0.0.1", port), timeout=10) as bad:
                bad.sendall(b"GET / HTTP/1.0\r\n\r\n")
                assert sgtest.recv_all(bad) == b"", "the bad client got bytes back"
            s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port)
            with s:
                assert rep == 0, rep
                msg = b"session %d" % i
                s.sendall(msg)
                assert sgtest.recv_exact(s, len(msg)) == msg
                s.shutdown(socket.SHUT_WR)
                assert sgtest.recv_all(s) == b"", "log text reached a client"
        assert proc.poll() is None, "the daemon died"
        sgtest.log("served with closed standard descriptors")
    finally:
        rc = sgtest.terminate(proc)
        echo.close()
    assert rc == 0, "exit code %r on SIGTERM" % rc


def test():
    tmp = tempfile.mkdtemp(prefix="socksgate-test-")
    try:
        test_version_help(tmp)
        test_check_config(tmp)
        test_listen_override()
        test_config_errors(tmp)
        test_closed_std_fds(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


sgtest.main(test)
