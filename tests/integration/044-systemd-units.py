#!/usr/bin/python3
"""The shipped units: systemd-analyze verify is clean on socksgate.socket and
on socksgate.service made from its .in with the built binary's directory;
systemd-analyze security --offline rates the service's exposure "OK" or
better; and the journal catalog explains every MESSAGE_ID in log.h."""
import os
import re
import shutil
import tempfile

import sgtest


def message_ids():
    ids = {}
    with open(os.path.join(sgtest.TOP_SRCDIR, "src", "log.h")) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "#define" and parts[1].startswith("LOG_ID_"):
                ids[parts[1]] = parts[2].strip('"')
    return ids


def check_catalog():
    with open(os.path.join(sgtest.TOP_SRCDIR, "systemd", "socksgate.catalog")) as f:
        text = f.read()
    entries = dict(re.findall(r"^-- ([0-9a-f]{32})\nSubject: (.+)$", text, re.M))
    ids = message_ids()
    assert len(ids) >= 6, ids
    for name, mid in ids.items():
        assert mid in entries, "%s (%s) has no catalog entry" % (name, mid)
    assert len(entries) == len(ids), (entries, ids)


def test():
    check_catalog()
    analyze = sgtest.require_tool("systemd-analyze")
    tmp = tempfile.mkdtemp(prefix="socksgate-units-")
    try:
        # Can systemd-analyze verify run here at all? Try a unit that is surely fine.
        with open(os.path.join(tmp, "probe.service"), "w") as f:
            f.write("[Service]\nType=oneshot\nExecStart=/bin/true\n")
        r = sgtest.run([analyze, "verify", "--man=no", "probe.service"], cwd=tmp)
        if r.returncode != 0:
            sgtest.skip("systemd-analyze verify cannot run here: " +
                        (r.stderr or r.stdout).decode()[-300:])
        os.unlink(os.path.join(tmp, "probe.service"))

        sbindir = os.path.dirname(os.path.abspath(sgtest.SOCKSGATE))
        with open(os.path.join(sgtest.TOP_SRCDIR, "systemd", "socksgate.service.in")) as f:
            unit = f.read()
        assert "@sbindir@/socksgate" in unit
        with open(os.path.join(tmp, "socksgate.service"), "w") as f:
            f.write(unit.replace("@sbindir@", sbindir))
        shutil.copy(os.path.join(sgtest.TOP_SRCDIR, "systemd", "socksgate.socket"), tmp)

        r = sgtest.run([analyze, "verify", "--man=no", "socksgate.socket", "socksgate.service"],
                       cwd=tmp)
        out = (r.stdout + r.stderr).decode()
        sgtest.log("verify: rc %d %s" % (r.returncode, out))
        assert r.returncode == 0 and out.strip() == "", out

        r = sgtest.run([analyze, "security", "--offline=true", "--no-pager", "socksgate.service"],
                       cwd=tmp)
        out = (r.stdout + r.stderr).decode()
        m = re.search(r"Overall exposure level for socksgate\.service: ([0-9.]+) (\w+)", out)
        if m is None:
            sgtest.log("systemd-analyze security --offline is not available here: " + out[-300:])
            return
        sgtest.log("security: exposure %s %s" % (m.group(1), m.group(2)))
        assert float(m.group(1)) <= 2.0 and m.group(2) in ("SAFE", "OK"), out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


sgtest.main(test)
