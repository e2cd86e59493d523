#!/usr/bin/python3
"""socksgatectl against a running daemon with live sessions: status and its
counters, sessions (all and filtered, table and --json) with users, clients,
destinations and byte counts, kill by ID and by user (the clients see their
connections end, the records say who ended them), blocked / unblock after
failed logins from another address, cache flush, and the exit statuses for
nothing matched, usage errors and an unreachable daemon."""
import os
import re
import socket

import sgtest

USERS = {"alice": "a-secret", "bob": "b-secret"}


def login(d, echo, user, source=None):
    s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port, user=user,
                                        password=USERS[user], source=source)
    assert rep == 0, rep
    return s


def fail_login(d, source):
    s = sgtest.connect_proxy(d, source=source)
    try:
        if sgtest.greet(s, b"\x02") != 2:
            return "blocked"
        return "failed" if sgtest.userpass(s, "alice", "wrong") != b"\x01\x00" else "ok"
    finally:
        s.close()


def check_status(d):
    st = d.ctl_json("status")
    assert st["ok"] is True and st["version"], st
    assert st["pid"] == d.proc.pid, st
    assert st["config"]["file"] == d.conf, st
    assert st["uptime_ms"] >= 0 and st["config"]["loaded"] > 0, st
    assert st["sessions"] == {"active": 0, "total": 0}, st
    assert st["workers"]["busy"] == 0 and st["workers"]["idle"] >= 1, st
    assert st["queue"]["waiting"] == 0 and st["queue"]["length"] > 0, st
    assert "last_reload" not in st, st
    text = d.ctl("status")
    assert text.returncode == 0, text
    assert re.search(r"^sessions +0 active, 0 since start$", text.stdout, re.M), text.stdout
    assert d.conf in text.stdout, text.stdout


def check_sessions(d, socks):
    """socks: [(user, socket, bytes sent)]. Returns {local port: session id}."""
    got = d.ctl_json("sessions")["sessions"]
    assert len(got) == len(socks), got
    by_client = {s["client"]: s for s in got}
    ids = {}
    for user, s, sent in socks:
        here = "127.0.0.1:%d" % s.getsockname()[1]
        e = by_client[here]
        assert e["user"] == user and e["command"] == "connect", e
        assert e["destination"].startswith("127.0.0.1:"), e
        assert e["bytes_up"] == sent and e["bytes_down"] == sent, e
        assert e["age_ms"] >= e["idle_ms"] >= 0, e
        ids[s.getsockname()[1]] = e["id"]
    alice = d.ctl_json("sessions", "--user", "alice")["sessions"]
    assert sorted(e["user"] for e in alice) == ["alice", "alice"], alice
    one = socks[0][1].getsockname()[1]
    mine = d.ctl_json("sessions", "--client", "127.0.0.1:%d" % one)["sessions"]
    assert [e["id"] for e in mine] == [ids[one]], mine
    assert d.ctl_json("sessions", "--client", "10.0.0.0/8")["sessions"] == []
    table = d.ctl("sessions").stdout.splitlines()
    assert table[0].split() == ["ID", "USER", "CLIENT", "COMMAND", "DESTINATION", "AGE",
                                "IDLE", "UP", "DOWN"], table
    assert len(table) == 1 + len(socks), table
    assert any(re.search(r"\bbob\b.*\bconnect\b.*\b4 B\b", l) for l in table), table
    return ids


def check_kill(d, socks, ids):
    uid = os.getuid()
    bob = socks[2][1]
    bob_id = ids[bob.getsockname()[1]]
    r = d.ctl("kill", str(bob_id))
    assert r.returncode == 0 and "ended 1 session" in r.stdout, r
    assert sgtest.closed_by_peer(bob), "bob's connection did not end"
    rec = d.wait_log(r"session %d .*reason=ended by socksgatectl \(uid %d\)$" % (bob_id, uid))
    assert rec, d.log()
    r = d.ctl_json("kill", "--user", "alice")
    assert r["killed"] == 2 and len(r["ids"]) == 2, r
    for _, s, _ in socks[:2]:
        assert sgtest.closed_by_peer(s), "alice's connection did not end"
    d.wait_log(r"user=alice .*reason=ended by socksgatectl \(uid %d\)$" % uid, count=2)
    d.wait_log(r"control socket: uid %d asked for 'kill user=alice'" % uid)
    assert d.ctl_json("sessions")["sessions"] == []
    r = d.ctl("kill", str(bob_id))
    assert r.returncode == 1 and "no live session matched" in r.stderr, r


def check_blocks(d, echo):
    assert d.ctl("blocked").stdout.strip() == "no blocked addresses"
    for _ in range(2):
        assert fail_login(d, "127.0.0.2") == "failed"
    assert fail_login(d, "127.0.0.2") == "blocked"
    blocked = d.ctl_json("blocked")["blocked"]
    assert [b["address"] for b in blocked] == ["127.0.0.2"], blocked
    assert 0 < blocked[0]["remaining_ms"] <= 3600 * 1000, blocked
    assert d.ctl_json("status")["blocked"] == 1
    assert "127.0.0.2" in d.ctl("blocked").stdout
    r = d.ctl("unblock", "127.0.0.2")
    assert r.returncode == 0 and "lifted 1 block" in r.stdout, r
    assert d.ctl_json("blocked")["blocked"] == []
    with login(d, echo, "alice", source="127.0.0.2"):
        pass
    assert d.ctl("unblock", "127.0.0.2").returncode == 1, "nothing to lift is a failure"
    for _ in range(2):
        assert fail_login(d, "127.0.0.3") == "failed"
    assert d.ctl_json("unblock", "all")["unblocked"] == 1
    assert d.ctl("unblock", "all").returncode == 0, "unblock all with nothing blocked is fine"


def check_cache(d):
    st = d.ctl_json("status")["auth"]
    assert st["cache_entries"] >= 1, st
    r = d.ctl_json("cache", "flush")
    assert r["flushed"] == st["cache_entries"], (r, st)
    assert d.ctl_json("status")["auth"]["cache_entries"] == 0


def check_exit_statuses(d):
    for args in (["kill"], ["bogus"], ["cache"], ["kill", "0"], ["unblock", "10.0.0.1:80"],
                 ["sessions", "--client", "nowhere"], ["status", "extra"]):
        r = d.ctl(*args)
        assert r.returncode == 2, (args, r)
    r = sgtest.run([sgtest.SOCKSGATECTL, "--socket", d.control + ".none", "status"])
    assert r.returncode == 3 and b"cannot reach the daemon" in r.stderr, r


def test():
    env = sgtest.pam_wrapper_env(USERS)
    conf = ["auth = pam", "auth_fail_delay = 0", "auth_fail_limit = 2", "auth_block_time = 1h"]
    with sgtest.echo_server() as echo, sgtest.Daemon(conf, env=env) as d:
        check_status(d)
        socks = []
        for user, payload in (("alice", b"x" * 1000), ("alice", b"yy"), ("bob", b"zzzz")):
            s = login(d, echo, user)
            s.sendall(payload)
            assert sgtest.recv_exact(s, len(payload)) == payload
            socks.append((user, s, len(payload)))
        st = d.ctl_json("status")
        assert st["sessions"] == {"active": 3, "total": 3}, st
        assert st["bytes"]["up"] >= 1006 and st["workers"]["busy"] == 3, st
        ids = check_sessions(d, socks)
        check_kill(d, socks, ids)
        for _, s, _ in socks:
            s.close()
        check_blocks(d, echo)
        check_cache(d)
        check_exit_statuses(d)
    assert not os.path.exists(d.control), "the control socket outlived the daemon"


sgtest.main(test)
