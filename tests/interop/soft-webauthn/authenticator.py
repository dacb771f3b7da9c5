"""soft-webauthn, a Python software authenticator from PyPI (the version
pinned in requirements.txt), as the authenticator of the interop test
crates/server/tests/interop_soft_webauthn.rs.

The Rust test runs the real server and makes the device channel's calls;
this script only plays the authenticator, and the browser's part around it:
the options from JSON to the python-fido2 style soft-webauthn takes (binary
members as bytes), and its answer to the WebAuthn JSON form (binary members
base64url without padding, as PublicKeyCredential.toJSON() gives them).

It reads one JSON command a line on stdin and answers each with one JSON
line on stdout, after a first line {"ready": true, ...} with the versions:

    {"op": "create", "form": "uv" | "up", "origin": ORIGIN, "options": {"publicKey": ...}}
    {"op": "get",    "form": "uv" | "up", "origin": ORIGIN, "options": {"publicKey": ...}}

answered {"credential": {...}} or {"error": "..."}. One device serves the
whole run, so an assertion is made with the credential of the last create
(soft-webauthn holds one credential). It exits at the end of stdin.

The two forms of the same device:

- "up": soft-webauthn as published. The flags of its authenticator data are
  byte literals in its code: 0x41 (AT, UP) when it creates a credential,
  0x01 (UP) when it asserts: user presence only, never user verification.
- "uv": the same code with exactly one change, the UV flag (0x04) added to
  those two literals: 0x45 and 0x05. The change is made to the library's
  source text, each of the two lines must be found exactly once (else the
  script refuses to start), and the patched methods are the library's own
  code run as it is otherwise, so an assertion's signature is computed by the
  library over the patched authenticator data (a registration's `none`
  attestation signs nothing). Nothing else is changed.
"""

import base64
import importlib.metadata
import inspect
import json
import sys

import soft_webauthn

PINNED = "0.1.4"

# The library's lines, and the same with the UV flag set.
UV_PATCH = {
    "flags = b'\\x41'  # attested_data + user_present": "flags = b'\\x45'  # attested_data + user_verified + user_present",
    "flags = b'\\x01'": "flags = b'\\x05'",
}


def uv_patched_class():
    """soft-webauthn's SoftWebauthnDevice with the UV flag set (UV_PATCH)."""
    source = inspect.getsource(soft_webauthn)
    for old, new in UV_PATCH.items():
        found = source.count(old)
        if found != 1:
            raise SystemExit(f"soft-webauthn's source has {found} times `{old}`, not once: the UV patch does not apply")
        source = source.replace(old, new)
    namespace = {"__name__": "soft_webauthn_uv"}
    exec(compile(source, f"{soft_webauthn.__file__} (UV flag patched)", "exec"), namespace)
    return namespace["SoftWebauthnDevice"]


FORMS = {"up": soft_webauthn.SoftWebauthnDevice, "uv": uv_patched_class()}


def b64url(data):
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def binary_options(options):
    """The server's options (JSON) with their binary members as bytes."""
    public_key = dict(options["publicKey"])
    public_key["challenge"] = unb64url(public_key["challenge"])
    if "user" in public_key:
        public_key["user"] = dict(public_key["user"], id=unb64url(public_key["user"]["id"]))
    for member in ("excludeCredentials", "allowCredentials"):
        if public_key.get(member) is not None:
            public_key[member] = [dict(c, id=unb64url(c["id"])) for c in public_key[member]]
    return {"publicKey": public_key}


def credential_json(credential):
    """soft-webauthn's answer (bytes) in the WebAuthn JSON form."""
    raw_id = credential["rawId"]
    # soft-webauthn's `id` is padded base64url bytes; the JSON form's is unpadded text.
    credential_id = credential["id"].decode("ascii").rstrip("=")
    if credential_id != b64url(raw_id):
        raise ValueError("id is not rawId")
    response = {
        name: (b64url(value) if isinstance(value, bytes) else value)
        for name, value in credential["response"].items()
    }
    return {"id": credential_id, "rawId": b64url(raw_id), "type": credential["type"], "response": response}


def answer(device, command):
    form = FORMS[command["form"]]
    options = binary_options(command["options"])
    if command["op"] == "create":
        credential = form.create(device, options, command["origin"])
    elif command["op"] == "get":
        credential = form.get(device, options, command["origin"])
    else:
        raise ValueError(f"unknown op {command['op']!r}")
    return {"credential": credential_json(credential)}


def main():
    version = importlib.metadata.version("soft-webauthn")
    if version != PINNED:
        raise SystemExit(f"soft-webauthn {version} is installed, the UV patch is for {PINNED}: see requirements.txt")
    ready = {"ready": True, "soft_webauthn": version, "fido2": importlib.metadata.version("fido2")}
    print(json.dumps(ready), flush=True)
    device = soft_webauthn.SoftWebauthnDevice()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            out = answer(device, json.loads(line))
        except Exception as error:  # reported to the test, which fails on it
            out = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
