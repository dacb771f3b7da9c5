#!/usr/bin/env python3
"""Independent computation of the approval statement test vector.

Reads examples/approver-request.json and display-schemas.json, builds the
statement for decision "approve" by the rules of docs/protocol.md (written
again here, not taken from the Rust code), canonicalizes it with the
hand-written RFC 8785 serializer below (strings, integers, booleans, null,
arrays, objects; members sorted by UTF-16 code units; floats refused), and
writes:

  examples/statement.json   the statement (pretty, for the docs)
  statement.jcs             its JCS bytes (no trailing newline)
  statement.hash            base64url(SHA-256(JCS)) (no trailing newline)

Standard library only. Run from anywhere: python3 compute.py
"""
import base64
import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_SAFE = 2**53 - 1


# RFC 8785 §3.2.2.2: these seven have short escapes, other controls \u00xx.
SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def jcs_string(s):
    out = ['"']
    for ch in s:
        if ch in SHORT_ESCAPES:
            out.append(SHORT_ESCAPES[ch])
        elif ord(ch) < 0x20:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def jcs(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        if abs(v) > MAX_SAFE:
            raise ValueError("integer beyond 2^53-1")
        return str(v)
    if isinstance(v, float):
        raise ValueError("floats are not used in this vector")
    if isinstance(v, str):
        return jcs_string(v)
    if isinstance(v, list):
        return "[" + ",".join(jcs(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v.keys(), key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(jcs_string(k) + ":" + jcs(v[k]) for k in keys) + "}"
    raise TypeError(type(v))


def main():
    with open(os.path.join(HERE, "examples", "approver-request.json"), encoding="utf-8") as f:
        req = json.load(f)
    with open(os.path.join(HERE, "display-schemas.json"), encoding="utf-8") as f:
        schemas = json.load(f)
    statement = {
        "v": 3,
        "request_id": req["id"],
        "nonce": req["nonce"],
        "issuer": req["issuer"],
        "client_id": req["client"]["client_id"],
        "client_name": req["client"]["client_name"],
        "client_verified": req["client"]["verified"],
        "sub": req["user"]["sub"],
        "scope": req["scope"],
        "scope_descriptions": req.get("scope_descriptions", {}),
        "audience": req.get("audience"),
        "binding_message": req["binding_message"],
        "authorization_details": req["authorization_details"],
        "display_schemas": dict(sorted(schemas.items())),
        "risk": req["risk"],
        "requires": req["requires"],
        "decision": "approve",
        "expires_at": req["expires_at"],
    }
    canonical = jcs(statement).encode("utf-8")
    digest = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
    with open(os.path.join(HERE, "examples", "statement.json"), "w", encoding="utf-8") as f:
        json.dump(statement, f, ensure_ascii=False, indent=2)
        f.write("\n")
    with open(os.path.join(HERE, "statement.jcs"), "wb") as f:
        f.write(canonical)
    with open(os.path.join(HERE, "statement.hash"), "w", encoding="ascii") as f:
        f.write(digest)
    print(digest)


if __name__ == "__main__":
    main()
