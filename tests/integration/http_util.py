# SPDX-License-Identifier: MIT
"""Helpers for the HTTP API and metrics tests (test_http_api.py, test_http_metrics.py): a token
file, a c2wall with control.http on a free loopback port, and plain http.client requests."""

import http.client
import json
import os
import secrets
import ssl

import c2w_world as cw


def write_tokens(path, read, admin):
    """A token file with one read and one admin token, mode 0600 (the daemon refuses o+r)."""
    with open(path, "w") as f:
        f.write("# c2wall HTTP API tokens\nread %s\nadmin %s\n" % (read, admin))
    os.chmod(path, 0o600)


def new_token():
    return secrets.token_urlsafe(24)


def http_extra(d, port, read, admin, **keys):
    tokens = os.path.join(d, "http.tokens")
    write_tokens(tokens, read, admin)
    ctl = {"http": ["127.0.0.1@%d" % port], "http-tokens": tokens}
    ctl.update(keys)
    return {"control": ctl}


def request(port, method, path, token=None, body=None, headers=None, tls_ca=None,
            timeout=10.0):
    """One request on a fresh connection; returns (status, headers dict, body bytes)."""
    if tls_ca is not None:
        ctx = ssl.create_default_context(cafile=tls_ca)
        ctx.check_hostname = False
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = "Bearer " + token
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def get_json(port, path, token, **kw):
    st, hd, body = request(port, "GET", path, token, **kw)
    if st != 200:
        raise AssertionError("GET %s -> %d %r" % (path, st, body))
    return json.loads(body)


def metrics(port, token):
    st, hd, body = request(port, "GET", "/metrics", token)
    if st != 200:
        raise AssertionError("GET /metrics -> %d %r" % (st, body))
    return body.decode()


def sample(text, name, labels=None):
    """The value of one sample in a Prometheus text page (None when absent)."""
    want = name
    if labels:
        want += "{" + ",".join('%s="%s"' % kv for kv in labels.items()) + "}"
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, val = line.rpartition(" ")
        if key == want:
            return float(val)
    return None
