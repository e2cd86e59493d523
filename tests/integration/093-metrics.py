#!/usr/bin/python3
"""GET /metrics (metrics_listen): `promtool check metrics` accepts the text,
and its counters match the traffic this test made: sessions by command and
outcome, relayed bytes, logins by result (PAM, cache, failures, a block),
refusals by cause, the histograms' counts and the per-user series capped
by metrics_max_users. Other paths get 404, other methods 405; a reload that
moves metrics_listen says it takes a restart and the endpoint stays."""
import http.client
import re
import signal
import socket
import subprocess
import time

import sgtest

SERIES_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


def request(port, path="/metrics", method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        c.close()


def parse(text):
    """{'name{labels}': value} for every sample; HELP/TYPE lines checked."""
    samples, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#"):
            continue
        m = SERIES_RE.match(line)
        assert m, "not a sample line: %r" % line
        key = m.group(1) + (m.group(2) or "")
        assert key not in samples, "duplicate series %s" % key
        samples[key] = float(m.group(3))
        base = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
        assert m.group(1) in typed or base in typed, "no TYPE for %s" % m.group(1)
    return samples


def promtool_check(text):
    promtool = sgtest.require_tool("promtool")
    r = subprocess.run([promtool, "check", "metrics"], input=text.encode(), timeout=60,
                       capture_output=True)
    out = (r.stdout + r.stderr).decode()
    assert r.returncode == 0, "promtool check metrics failed:\n" + out
    sgtest.log("promtool check metrics: OK " + out.strip())


def login(d, user, password):
    """One login without a request: True when accepted."""
    s = sgtest.connect_proxy(d)
    with s:
        m = sgtest.greet(s, b"\x02")
        if m != 2:
            return None
        return sgtest.userpass(s, user, password) == b"\x01\x00"


def echo(d, port, user, password, size):
    s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", port, user=user, password=password)
    with s:
        assert rep == 0, rep
        data = b"x" * size
        s.sendall(data)
        assert sgtest.recv_exact(s, size) == data
        s.shutdown(socket.SHUT_WR)
        assert sgtest.recv_all(s) == b""


def refused(d, host, port):
    s, rep, _, _ = sgtest.socks_request(d, host, port, user="alice", password="secret")
    s.close()
    assert rep == 2, rep


def test():
    sgtest.require_tool("promtool")
    env = sgtest.pam_wrapper_env({"alice": "secret", "bob": "pw2"})
    mport = sgtest.free_port()
    denied = sgtest.free_port()
    conf = ["auth = pam", "auth_fail_delay = 0", "auth_fail_limit = 2",
            "metrics_listen = 127.0.0.1:%d" % mport, "metrics_per_user = yes",
            "metrics_max_users = 1", "deny to 127.0.0.1 port %d" % denied]
    with sgtest.echo_server() as srv, sgtest.Daemon(conf, env=env) as d:
        status, _, text = request(mport)
        assert status == 200, status
        before = parse(text)
        assert before["socksgate_sessions_started_total"] == 0, before

        echo(d, srv.port, "alice", "secret", 1000)     # PAM: success
        echo(d, srv.port, "alice", "secret", 1000)     # the cache: cache_hit
        echo(d, srv.port, "bob", "pw2", 10)            # PAM; past metrics_max_users
        refused(d, "127.0.0.1", denied)                # the deny rule
        refused(d, "169.254.169.254", 80)              # the built-in default policy
        s = sgtest.connect_proxy(d)                    # gone before its greeting
        s.close()
        s = sgtest.connect_proxy(d)                    # not SOCKS: an error
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert sgtest.closed_by_peer(s)
        s.close()
        assert login(d, "alice", "wrong") is False     # failure
        assert login(d, "alice", "wrong") is False     # failure; blocks the address
        assert login(d, "alice", "secret") is None     # blocked at the greeting
        d.wait_log(r"session \d+ ", count=10)
        # A record is out before its session has closed the client socket
        # (the closing linger): the gauge reaches 0 a moment later.
        deadline = time.monotonic() + 10
        while True:
            status, headers, text = request(mport)
            if parse(text).get("socksgate_sessions_active") == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert status == 200, status
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers
        promtool_check(text)
        m = parse(text)
        sgtest.log("\n".join(l for l in text.splitlines() if not l.startswith("#")
                             and not l.endswith(" 0") and "_bucket" not in l))
        want = {
            "socksgate_build_info{version=\"%s\"}" % d.log().split("socksgate ")[1].split()[0]: 1,
            "socksgate_sessions_active": 0,
            "socksgate_sessions_started_total": 10,
            'socksgate_sessions_ended_total{command="connect",outcome="ok"}': 3,
            'socksgate_sessions_ended_total{command="connect",outcome="refused_rule"}': 1,
            'socksgate_sessions_ended_total{command="connect",outcome="refused_policy"}': 1,
            'socksgate_sessions_ended_total{command="connect",outcome="error"}': 0,
            'socksgate_sessions_ended_total{command="none",outcome="refused_auth"}': 3,
            'socksgate_sessions_ended_total{command="none",outcome="client_gone"}': 1,
            'socksgate_sessions_ended_total{command="none",outcome="error"}': 1,
            'socksgate_relayed_bytes_total{direction="up"}': 2010,
            'socksgate_relayed_bytes_total{direction="down"}': 2010,
            'socksgate_logins_total{result="success"}': 2,
            'socksgate_logins_total{result="cache_hit"}': 3,
            'socksgate_logins_total{result="failure"}': 2,
            'socksgate_logins_total{result="pam_error"}': 0,
            'socksgate_logins_total{result="blocked"}': 1,
            'socksgate_refusals_total{cause="rule"}': 1,
            'socksgate_refusals_total{cause="default_policy"}': 1,
            'socksgate_refusals_total{cause="limit"}': 0,
            'socksgate_refusals_total{cause="block"}': 1,
            "socksgate_login_duration_seconds_count": 7,
            'socksgate_login_duration_seconds_bucket{le="+Inf"}': 7,
            "socksgate_connect_duration_seconds_count": 3,
            "socksgate_handshake_duration_seconds_count": 5,
            "socksgate_blocked_addresses": 1,
            'socksgate_user_sessions_total{user="alice"}': 4,
            'socksgate_user_relayed_bytes_total{user="alice",direction="up"}': 2000,
            'socksgate_user_relayed_bytes_total{user="alice",direction="down"}': 2000,
            'socksgate_user_sessions_total{user="other"}': 1,
            'socksgate_user_relayed_bytes_total{user="other",direction="up"}': 10,
        }
        for k, v in want.items():
            assert m.get(k) == v, "%s is %r, expected %r" % (k, m.get(k), v)
        assert not any('user="bob"' in k for k in m), "bob has series past metrics_max_users"
        assert m["socksgate_open_fds"] > 3 and m["socksgate_max_fds"] >= m["socksgate_open_fds"]
        assert m['socksgate_workers{state="idle"}'] >= 1, m
        assert m["socksgate_queue_length"] == 0 and m["socksgate_queue_capacity"] > 0, m
        assert m["socksgate_start_time_seconds"] > 1.6e9, m
        # Histograms are cumulative.
        for h in ("login", "connect", "handshake"):
            b = [v for k, v in m.items() if k.startswith("socksgate_%s_duration_seconds_bucket" % h)]
            assert b == sorted(b) and len(b) == 14, (h, b)

        assert request(mport, "/")[0] == 404
        assert request(mport, "/metrics/x")[0] == 404
        assert request(mport, method="POST")[0] == 405
        status, headers, body = request(mport, method="HEAD")
        assert status == 200 and body == "", (status, body)

        # metrics_listen takes a restart: a reload says so, the endpoint stays.
        d.rewrite(conf[:3] + ["metrics_listen = 127.0.0.1:%d" % sgtest.free_port()] + conf[4:])
        d.signal(signal.SIGHUP)
        d.wait_log(r"metrics_listen changed to 127\.0\.0\.1:\d+: that takes a restart")
        d.wait_log(r"configuration reloaded")
        assert request(mport)[0] == 200


sgtest.main(test)
