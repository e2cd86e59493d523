"""A journal for the tests that read one back: the system's systemd-journald
when it is listening, or one the test starts (as root) and stops again by
pid, removing the files it made. Every wait is bounded."""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time

import sgtest

JOURNALD = "/lib/systemd/systemd-journald"
SOCKET = "/run/systemd/journal/socket"
JOURNALD_DIRS = ("/run/systemd/journal", "/run/log/journal")


def journald_listening():
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        try:
            s.connect(SOCKET)
            return True
        except OSError:
            return False


def paths_under(dirs):
    found = set()
    for top in dirs:
        for root, subdirs, files in os.walk(top):
            found.add(root)
            found.update(os.path.join(root, n) for n in subdirs + files)
    return found


def remove_new(before):
    """Removes what appeared under JOURNALD_DIRS since before was taken."""
    for path in sorted(paths_under(JOURNALD_DIRS) - before, key=len, reverse=True):
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                os.rmdir(path)
            else:
                os.unlink(path)
        except OSError as e:
            sgtest.log("cannot remove %s: %s" % (path, e))


def start_journald(tmp):
    """Starts systemd-journald (skips the test when it cannot run here);
    returns the process and its open output file."""
    os.makedirs(os.path.dirname(SOCKET), exist_ok=True)
    out = open(os.path.join(tmp, "journald.log"), "w")
    proc = subprocess.Popen([JOURNALD], stdin=subprocess.DEVNULL, stdout=out,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while not journald_listening():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            out.close()
            with open(out.name) as f:
                sgtest.skip("systemd-journald does not run here: " + f.read()[-500:])
        time.sleep(0.05)
    return proc, out


def message_ids():
    """The MESSAGE_IDs as src/log.h defines them: {"AUTH_FAILURE": "0d6d...", ...}."""
    ids = {}
    with open(os.path.join(sgtest.TOP_SRCDIR, "src", "log.h")) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "#define" and parts[1].startswith("LOG_ID_"):
                ids[parts[1][len("LOG_ID_"):]] = parts[2].strip('"')
    sgtest.check(len(ids) >= 6, "MESSAGE_IDs not found in log.h: %r" % ids)
    return ids


@contextlib.contextmanager
def journal():
    """A listening journald for the block (root only, else the test skips)."""
    sgtest.require_root("writing and reading the system journal needs root")
    if not os.access(JOURNALD, os.X_OK):
        sgtest.skip(JOURNALD + " is missing (package systemd)")
    if journald_listening():
        yield
        return
    tmp = tempfile.mkdtemp(prefix="socksgate-journal-")
    before = paths_under(JOURNALD_DIRS)
    proc, out = start_journald(tmp)
    sgtest.log("started systemd-journald, pid %d" % proc.pid)
    try:
        yield
    finally:
        sgtest.terminate(proc, 10)
        out.close()
        remove_new(before)
        shutil.rmtree(tmp, ignore_errors=True)
