# Interop: Auth0's AI SDK for Python (`auth0-ai`, the version pinned in
# requirements.txt) asks Countersign for a tool call, as an agent built on it
# does: AsyncAuthorizerBase.protect (what each framework's
# with_async_authorization wraps) in interrupt mode, the tool called again
# after each interrupt until it runs or is refused. Nothing of the library is
# changed or mocked; it reaches the server over HTTPS at https://{DOMAIN}
# through auth0-python (a form to /bc-authorize, JSON to /oauth/token),
# trusting the development CA through
# REQUESTS_CA_BUNDLE. One JSON line per outcome on stdout, as
# ../auth0-ai-ciba.mjs prints them.
import asyncio
import base64
import json
import os
import sys
import time

from auth0 import Auth0Error
from auth0_ai.authorizers.async_authorization import AsyncAuthorizerBase
from auth0_ai.authorizers.async_authorization.async_authorizer_base import (
    get_async_authorization_credentials,
)
from auth0_ai.interrupts.async_authorization_interrupts import (
    AuthorizationPendingInterrupt,
    AuthorizationPollingInterrupt,
)
from auth0_ai.stores import InMemoryStore


def say(line):
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def claims(jwt):
    """The access token's claims, unverified: what the tool was given (the
    SDK's credentials leave the approved details out; the token holds them)."""
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


env = os.environ
details = env.get("AUTHORIZATION_DETAILS", "")
params = {
    "user_id": env["USER_ID"],
    "binding_message": env["BINDING_MESSAGE"],
    "scopes": env.get("SCOPES", "openid").split(" "),
    "store": InMemoryStore(),
    "on_authorization_request": env.get("MODE", "interrupt"),
}
if env.get("REQUESTED_EXPIRY"):
    params["requested_expiry"] = int(env["REQUESTED_EXPIRY"])
if details:
    params["authorization_details"] = json.loads(details)
if env.get("AUDIENCE"):
    params["audience"] = env["AUDIENCE"]
authorizer = AsyncAuthorizerBase(
    params,
    {"domain": env["DOMAIN"], "client_id": env["CLIENT_ID"], "client_secret": env["CLIENT_SECRET"]},
)


async def send_email(to, order):
    credentials = get_async_authorization_credentials()
    token = credentials["access_token"]
    return {
        "ran": {"to": to, "order": order},
        "authorization_details": claims(token).get("authorization_details"),
        "aud": claims(token).get("aud"),
        "scopes": credentials.get("scope"),
        "has_access_token": isinstance(token, str),
        "has_refresh_token": isinstance(credentials.get("refresh_token"), str),
    }


tool = authorizer.protect(
    lambda *args, **kwargs: {"thread_id": "thread-1", "tool_call_id": "call-1", "tool_name": "send_email"},
    send_email,
)


async def main():
    deadline = time.monotonic() + int(env["WAIT_SECS"])
    while True:
        try:
            result = await tool("customer@example.org", "ACME-10")
            say({"outcome": "ran", **result})
            return 0
        except (AuthorizationPendingInterrupt, AuthorizationPollingInterrupt) as e:
            say({"outcome": "interrupt", "code": e.code, "retry_in": e.next_retry_interval()})
            if time.monotonic() > deadline:
                say({"outcome": "gave_up"})
                return 2
            await asyncio.sleep(max(1, e.next_retry_interval()))
        except Auth0Error as e:
            # An OAuth error answer (4xx) is a refusal; anything else is a
            # failure of the run.
            outcome = "refused" if 400 <= e.status_code < 500 else "thrown"
            say({"outcome": outcome, "name": type(e).__name__, "code": None, "error": e.error_code, "message": e.message})
            return 0 if outcome == "refused" else 1
        except Exception as e:
            code = getattr(e, "code", None)
            if isinstance(code, str) and code.startswith("ASYNC_AUTHORIZATION_"):
                say({"outcome": "refused", "name": type(e).__name__, "code": code, "error": None, "message": str(e)})
                return 0
            say({"outcome": "thrown", "name": type(e).__name__, "code": code, "message": str(e)})
            return 1


sys.exit(asyncio.run(main()))
