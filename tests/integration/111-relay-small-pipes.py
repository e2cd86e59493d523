#!/usr/bin/python3
"""A gateway running as an unprivileged user whose pipe quota
(fs.pipe-user-pages-soft) is used up gets pipes of a page or two; splice()
through them moves that little per call, so the relay copies instead. As
root: a throw-away account, a helper process of that account holding pipes
until its new pipes come out small, and the daemon dropping to the same
account (user = ...). An 8 MiB download then arrives whole (sha256), the
daemon holds no pipe while it streams, and it says once why it copies. The
same download with the quota free (helper gone) goes through pipes again."""
import os
import subprocess

import sgauth
import sgtest

HOG = r"""
import fcntl, os, sys
pipes = []
while len(pipes) < 4000:
    r, w = os.pipe()
    pipes.append((r, w))
    if fcntl.fcntl(r, 1032) < 65536:    # F_GETPIPE_SZ: the quota is used up
        break
print(len(pipes), fcntl.fcntl(pipes[-1][0], 1032), flush=True)
sys.stdin.read()
"""


def pipes_of(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("pipe:")
        except OSError:
            pass
    return n


def download(d, size):
    """A slowly read download through d; returns (pipes seen, data ok)."""
    return sgtest.slow_download(d, size, lambda: pipes_of(d.proc.pid))


def test():
    sgtest.require_root("running the daemon and a pipe hog as a throw-away user needs root")
    setpriv = sgtest.require_tool("setpriv")
    try:
        with open("/proc/sys/fs/pipe-user-pages-soft") as f:
            soft = int(f.read())
    except OSError:
        sgtest.skip("no fs.pipe-user-pages-soft")
    if soft == 0 or soft > 40000:
        sgtest.skip("fs.pipe-user-pages-soft is %d: no small pipes to be had cheaply" % soft)
    user = "sgpipe%d" % (os.getpid() % 100000)
    with sgauth.SystemAccounts({user: "unused-%d" % os.getpid()}):
        hog = subprocess.Popen([setpriv, "--reuid=" + user, "--regid=" + user, "--clear-groups",
                                "/usr/bin/python3", "-c", HOG],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            n, size = (int(x) for x in hog.stdout.readline().split())
            sgtest.log("the hog holds %d pipes; its last is %d bytes" % (n, size))
            if size >= 65536:
                sgtest.skip("pipes never came out small for %s" % user)
            with sgtest.Daemon(["auth = none", "user = " + user]) as d:
                seen, ok = download(d, 8 << 20)
                sgtest.log("quota used up: up to %d pipe descriptors seen" % seen)
                assert ok, "the download arrived damaged or short in copy mode"
                assert seen == 0, "pipes held although they come out small"
                d.wait_log(r"pipes come out at \d+ bytes")
                rec = d.wait_log(r"session \d+ .*cmd=connect.*")
                assert " down=%d " % (8 << 20) in rec[0], rec
        finally:
            hog.stdin.close()
            hog.wait(10)
        with sgtest.Daemon(["auth = none", "user = " + user]) as d:
            seen, ok = download(d, 8 << 20)
            sgtest.log("quota free: up to %d pipe descriptors seen" % seen)
            assert ok, "the download arrived damaged or short"
            assert seen >= 2, "no pipe with the quota free: the copy fallback stuck"
            assert "pipes come out at" not in d.log()


sgtest.main(test)
