#!/usr/bin/python3
"""GSSAPI with per-message confidentiality (RFC 1961 level 2): as 131, and
every message the gateway sends must be encrypted (the client checks each
unwrap's conf_state). 16 MiB each way keep their sha256 through the
half-close."""
import sggss
import sgtest


sgtest.main(lambda: sggss.bulk(sggss.CONFIDENTIALITY))
