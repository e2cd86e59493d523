#!/usr/bin/python3
"""socksgate.conf.example stays in step with the option table: `socksgate -t`
accepts it, and it mentions (as a setting, commented out or not) every key
that `socksgate -t` prints for the built-in defaults, where config_dump()
writes each key of the table as "key = value" or, when unset, "# key: why".
Its commented-out settings name real keys too."""
import os
import re
import shutil
import tempfile

import sgtest

EXAMPLE = os.path.join(sgtest.TOP_SRCDIR, "socksgate.conf.example")
SET_RE = re.compile(r"^([a-z][a-z0-9_]*)\s*=")           # key = value
UNSET_RE = re.compile(r"^#\s*([a-z][a-z0-9_]*):\s")      # # key: not set (...)


def check_config(path):
    r = sgtest.run([sgtest.SOCKSGATE, "-t", "-c", path], timeout=10)
    out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    assert r.returncode == 0, "socksgate -t -c %s exited %d:\n%s%s" % (path, r.returncode,
                                                                       out, err)
    assert "configuration OK" in out + err, out + err
    return out


def default_keys(tmp):
    """The keys -t prints for an empty file (the built-in defaults), from the
    settings part of the dump: it ends at the first blank line."""
    empty = os.path.join(tmp, "empty.conf")
    open(empty, "w").close()
    out = check_config(empty)
    keys, settings = [], []
    for line in out.split("\n\n", 1)[0].splitlines():
        m = SET_RE.match(line)
        if m:
            settings.append(line)
        else:
            m = UNSET_RE.match(line)
        if m and m.group(1) not in keys:
            keys.append(m.group(1))
    # Both forms must have been recognised, or a change in the dump's shape
    # would make this test check nothing.
    for k in ("listen", "auth", "log_level", "workers_max", "user"):
        assert k in keys, "%r not found in the -t output:\n%s" % (k, out)
    # What -t prints is itself a configuration -t accepts.
    again = os.path.join(tmp, "dump.conf")
    with open(again, "w") as f:
        f.write("\n".join(settings) + "\n")
    check_config(again)
    return keys


def example_keys():
    """The keys the example sets, and those it shows commented out (#key = v)."""
    with open(EXAMPLE) as f:
        text = f.read()
    keys = set(re.findall(r"^([a-z][a-z0-9_]*)\s*=", text, re.M))
    commented = set(re.findall(r"^#\s?([a-z][a-z0-9_]*)\s*=", text, re.M))
    return keys, commented


def test():
    check_config(EXAMPLE)
    tmp = tempfile.mkdtemp(prefix="socksgate-test-")
    try:
        keys = default_keys(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sgtest.log("%d keys in the option table" % len(keys))
    active, commented = example_keys()
    missing = [k for k in keys if k not in active | commented]
    assert not missing, "socksgate.conf.example does not mention %s" % ", ".join(missing)
    unknown = sorted((active | commented) - set(keys))
    assert not unknown, "socksgate.conf.example has unknown keys %s" % ", ".join(unknown)


sgtest.main(test)
