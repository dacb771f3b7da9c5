//! The challenge of an assertion is the statement hash (DESIGN.md §4,
//! docs/protocol.md §8.2). webauthn-rs always draws a random challenge and
//! its maintainers declined custom ones (kanidm/webauthn-rs #99, #549), so
//! the challenge is set in the serialised authentication state
//! (`danger-allow-state-serialisation`), defensively: the state is parsed
//! as JSON, its exact layout is checked before anything is changed, the
//! random challenge must appear exactly once, and any difference refuses
//! to go on. The crate is pinned (`=0.6.2`); the canary test below fails
//! loudly when the layout changes.

use countersign_protocol::device::StatementHash;
use countersign_protocol::jws::{b64url_decode, b64url_encode};
use serde_json::Value;
use webauthn_rs::prelude::PasskeyAuthentication;

/// The members of the serialised `PasskeyAuthentication`.
const STATE_KEYS: [&str; 1] = ["ast"];
/// The members of its `AuthenticationState` (webauthn-rs-core 0.6.2).
const AST_KEYS: [&str; 5] = ["allow_backup_eligible_upgrade", "appid", "challenge", "credentials", "policy"];
/// webauthn-rs's challenges are 32 bytes, as a SHA-256.
const CHALLENGE_BYTES: usize = 32;

/// Why a state could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("WebAuthn state layout not as expected (webauthn-rs changed?): {0}")]
pub struct LayoutError(String);

fn keys(v: &Value) -> Option<Vec<&str>> {
    let mut k: Vec<&str> = v.as_object()?.keys().map(String::as_str).collect();
    k.sort_unstable();
    Some(k)
}

fn count_strings(v: &Value, needle: &str) -> usize {
    match v {
        Value::String(s) => usize::from(s == needle),
        Value::Array(a) => a.iter().map(|x| count_strings(x, needle)).sum(),
        Value::Object(o) => o.values().map(|x| count_strings(x, needle)).sum(),
        _ => 0,
    }
}

/// `state` with its challenge set to the 32 bytes of `hash`.
///
/// # Errors
/// [`LayoutError`] when the serialised state is not exactly the layout of
/// webauthn-rs 0.6.2 with a user-verification-required policy.
pub fn bind(state: &PasskeyAuthentication, hash: &StatementHash) -> Result<PasskeyAuthentication, LayoutError> {
    let bytes = b64url_decode(hash.as_str()).map_err(|_| LayoutError("statement hash is not base64url".into()))?;
    let v = serde_json::to_value(state).map_err(|e| LayoutError(e.to_string()))?;
    let v = bind_value(v, &bytes)?;
    serde_json::from_value(v).map_err(|e| LayoutError(e.to_string()))
}

/// [`bind`] on the serialised state.
fn bind_value(mut v: Value, challenge: &[u8]) -> Result<Value, LayoutError> {
    let err = |m: &str| LayoutError(m.to_owned());
    if challenge.len() != CHALLENGE_BYTES {
        return Err(err("statement hash is not 32 bytes"));
    }
    if keys(&v).as_deref() != Some(&STATE_KEYS[..]) {
        return Err(err("top-level members"));
    }
    let ast = &v["ast"];
    if keys(ast).as_deref() != Some(&AST_KEYS[..]) {
        return Err(err("authentication state members"));
    }
    if ast["policy"] != "required" || !ast["appid"].is_null() || !ast["credentials"].is_array() {
        return Err(err("policy, appid or credentials"));
    }
    let old = ast["challenge"].as_str().ok_or_else(|| err("challenge is not a string"))?.to_owned();
    if b64url_decode(&old).map(|b| b.len()) != Ok(CHALLENGE_BYTES) {
        return Err(err("challenge is not 32 bytes of base64url"));
    }
    if count_strings(&v, &old) != 1 {
        return Err(err("the challenge appears more than once"));
    }
    v["ast"]["challenge"] = Value::String(b64url_encode(challenge));
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webauthn::testing::{assert_with, registered, RP_ORIGIN};
    use webauthn_rs::prelude::WebauthnError;

    /// The canary: the exact serialised layout this module relies on. If
    /// webauthn-rs changes it, this fails first and loudly.
    #[test]
    fn canary_the_authentication_state_layout_is_webauthn_rs_0_6_2s() {
        let (rp, passkey, _) = registered();
        let (_, state) = rp.webauthn.start_passkey_authentication(&[passkey]).unwrap();
        let v = serde_json::to_value(&state).unwrap();
        assert_eq!(keys(&v).unwrap(), STATE_KEYS, "PasskeyAuthentication members");
        assert_eq!(keys(&v["ast"]).unwrap(), AST_KEYS, "AuthenticationState members");
        assert_eq!(v["ast"]["policy"], "required");
        assert!(v["ast"]["appid"].is_null());
        assert_eq!(b64url_decode(v["ast"]["challenge"].as_str().unwrap()).unwrap().len(), 32);
    }

    #[test]
    fn binding_sets_the_challenge_and_nothing_else() {
        let (rp, passkey, _) = registered();
        let (_, state) = rp.webauthn.start_passkey_authentication(&[passkey]).unwrap();
        let hash = StatementHash::digest(b"statement");
        let bound = bind(&state, &hash).unwrap();
        let (before, after) = (serde_json::to_value(&state).unwrap(), serde_json::to_value(&bound).unwrap());
        let mut expected = before.clone();
        expected["ast"]["challenge"] = Value::String(hash.as_str().to_owned());
        assert_eq!(after, expected);
    }

    #[test]
    fn an_assertion_verifies_only_against_the_hash_it_was_made_for() {
        let (rp, passkey, mut key) = registered();
        let (_, state) = rp.webauthn.start_passkey_authentication(std::slice::from_ref(&passkey)).unwrap();
        let shown = StatementHash::digest(b"buy 10 ACME");
        let assertion = assert_with(&mut key, &rp, &passkey, &shown);
        let other = bind(&state, &StatementHash::digest(b"buy 1000 ACME")).unwrap();
        assert!(matches!(
            rp.webauthn.finish_passkey_authentication(&assertion, &other),
            Err(WebauthnError::MismatchedChallenge)
        ));
        let random = rp.webauthn.finish_passkey_authentication(&assertion, &state);
        assert!(matches!(random, Err(WebauthnError::MismatchedChallenge)), "not the random challenge either");
        let result = rp.webauthn.finish_passkey_authentication(&assertion, &bind(&state, &shown).unwrap()).unwrap();
        assert!(result.user_verified());
        assert_eq!(RP_ORIGIN, rp.origin);
    }

    #[test]
    fn a_different_layout_is_refused() {
        let (rp, passkey, _) = registered();
        let (_, state) = rp.webauthn.start_passkey_authentication(&[passkey]).unwrap();
        let v = serde_json::to_value(&state).unwrap();
        let challenge = v["ast"]["challenge"].clone();
        let hash = [7u8; 32];
        assert!(bind_value(v.clone(), &hash).is_ok());
        let refused = |mutate: &dyn Fn(&mut Value), why: &str| {
            let mut changed = v.clone();
            mutate(&mut changed);
            let e = bind_value(changed, &hash).unwrap_err().to_string();
            assert!(e.contains(why), "{e} (expected {why})");
        };
        refused(&|v| v["ast"]["challenge_v2"] = challenge.clone(), "authentication state members");
        refused(&|v| v["extra"] = Value::Null, "top-level members");
        refused(&|v| drop(v["ast"].as_object_mut().unwrap().remove("appid")), "authentication state members");
        refused(&|v| v["ast"]["policy"] = "preferred".into(), "policy");
        refused(&|v| v["ast"]["appid"] = "https://a.example".into(), "appid");
        refused(&|v| v["ast"]["challenge"] = b64url_encode([1u8; 16]).into(), "32 bytes");
        refused(&|v| v["ast"]["challenge"] = 5.into(), "not a string");
        refused(&|v| v["ast"]["credentials"][0]["copy"] = challenge.clone(), "more than once");
        assert!(bind_value(v.clone(), &[7u8; 16]).unwrap_err().to_string().contains("32 bytes"));
        // Through the typed state too.
        let mut policy = v.clone();
        policy["ast"]["policy"] = Value::String("preferred".into());
        let state: PasskeyAuthentication = serde_json::from_value(policy).unwrap();
        assert!(bind(&state, &StatementHash::digest(b"s")).unwrap_err().to_string().contains("policy"));
    }
}
