#!/usr/bin/python3
"""GSSAPI with per-message integrity (RFC 1961 level 1): the request, the
reply and every byte are encapsulated (section 5, gss_wrap without
confidentiality). 16 MiB up to a hashing sink and 16 MiB down from a
source keep their sha256, and half-close passes through: the sink answers
only after the client's EOF."""
import sggss
import sgtest


sgtest.main(lambda: sggss.bulk(sggss.INTEGRITY))
