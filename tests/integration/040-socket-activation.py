#!/usr/bin/python3
"""Socket activation: under systemd-socket-activate the daemon serves the
socket it was passed, binds none of its own (the config's listen port stays
closed), and says so; a passed socket that is not a listening TCP socket
stops the start with a clear error. On a dual-stack [::] socket (what
ListenStream=1080 gives) an IPv4 client is named a.b.c.d, not ::ffff:a.b.c.d,
and its UDP association works."""
import os
import re
import shutil
import socket
import subprocess

import sgcmds
import sgtest


def listening_inodes():
    """{inode: port} of every listening TCP socket on the host."""
    out = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A":
                out[int(fields[9])] = int(fields[1].rsplit(":", 1)[1], 16)
    return out


def socket_inodes(pid):
    found = set()
    fddir = "/proc/%d/fd" % pid
    for fd in os.listdir(fddir):
        try:
            target = os.readlink(os.path.join(fddir, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]$", target)
        if m:
            found.add(int(m.group(1)))
    return found


def refused(port):
    with socket.socket() as s:
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
    return False


def dual_stack(activate, echo):
    port = sgtest.free_port(socket.AF_INET6, "::")
    with sgcmds.UdpEcho() as uecho, sgtest.Daemon(
            # [::] is not loopback: admit only loopback clients, without a password.
            ["auth = none", "allow_unauthenticated = yes", "allow from 127.0.0.0/8,::1",
             "deny from any"],
            wait=False, cmd_prefix=[activate, "-l", "[::]:%d" % port]) as d:
        d.wait_log(r"Listening on \[::\]:%d" % port)
        d.port = port
        sgtest.echo_round_trip(d, echo.port, b"v4 on v6")
        ctl, relay = sgcmds.associate(d)
        with ctl, sgcmds.udp_socket() as u:
            assert relay[0] == "127.0.0.1", relay
            u.sendto(sgcmds.udp_header("127.0.0.1", uecho.port) + b"dgram", relay)
            got = sgcmds.recv_dgram(u)
            assert got is not None, "no answer through the UDP relay"
            assert sgcmds.parse_udp(got[0]) == ("127.0.0.1", uecho.port, b"dgram"), got
        d.wait_log(r"session \d+ ", count=2)
        recs = d.sessions()
        assert len(recs) == 2, recs
        for r in recs:
            assert r["client"].startswith("127.0.0.1:"), recs
        assert "::ffff:" not in d.log(), d.log()
    sgtest.log("dual-stack socket: IPv4 client named as such, CONNECT and UDP work")


def test():
    activate = sgtest.require_tool("systemd-socket-activate")
    port = sgtest.free_port()
    cfg_port = sgtest.free_port()
    assert port != cfg_port
    with sgtest.echo_server() as echo:
        with sgtest.Daemon(["auth = none"], port=cfg_port, wait=False,
                           cmd_prefix=[activate, "-l", "127.0.0.1:%d" % port]) as d:
            # systemd-socket-activate execs the daemon on the first connection.
            d.wait_log(r"Listening on 127\.0\.0\.1:%d" % port)
            d.port = port
            sgtest.echo_round_trip(d, echo.port, b"activated")
            d.wait_ready()
            d.wait_log(r"listening on 127\.0\.0\.1:%d \(socket activation\)" % port)
            d.wait_log(r"'listen' setting is ignored")
            # The exec kept the pid: this is the daemon itself.
            with open("/proc/%d/comm" % d.proc.pid) as f:
                assert f.read().strip().startswith("socksgate"), "not the daemon"
            mine = socket_inodes(d.proc.pid)
            ports = sorted(p for ino, p in listening_inodes().items() if ino in mine)
            sgtest.log("listening ports of the daemon: %r" % ports)
            assert ports == [port], ports
            assert refused(cfg_port), "the config's listen port %d is bound" % cfg_port
            d.wait_log(r"session \d+ ")  # written once the session has ended
            recs = d.sessions()
            assert len(recs) == 1 and recs[0]["reply"].startswith("0x00"), recs

        if sgtest.have_ipv6():
            dual_stack(activate, echo)

        # A datagram socket is not something the gateway can serve.
        udp_port = sgtest.free_port()
        d = sgtest.Daemon(["auth = none"], port=cfg_port, wait=False,
                          cmd_prefix=[activate, "--datagram", "-l", "127.0.0.1:%d" % udp_port])
        try:
            d.wait_log(r"Listening on")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.sendto(b"wake up", ("127.0.0.1", udp_port))
            try:
                d.proc.wait(10)
            except subprocess.TimeoutExpired:
                raise AssertionError("daemon kept running with a datagram socket:\n" + d.log())
            d.stop(expect_rc=1)
            assert re.search(r"descriptor 3 is not a listening TCP socket", d.log()), d.log()
            assert "started" not in d.log(), d.log()
        finally:
            d.kill()
            shutil.rmtree(d.dir, ignore_errors=True)

sgtest.main(test)
