//! `countersign-server`: the Countersign reference authorization server.
//!
//! OpenID CIBA (poll, ping, push) with RFC 9396 rich authorization requests,
//! RFC 7591 dynamic client registration, RFC 9068 JWT access tokens,
//! RFC 7662 introspection, RFC 7009 revocation, and the server side of the
//! Countersign device channel (`docs/protocol.md`). See `docs/server.md`.
//!
//! [`app`] builds the router over an [`AppState`]; [`spawn_background`]
//! starts the delivery and expiry tasks; [`serve`] runs both on a listener.
//! [`ops`] holds the operator operations (users, clients, devices,
//! enrollment links, keys) that the `countersign-server` binary's CLI runs.
//! With the `test-util` feature, `testing` starts a complete server on a
//! temporary database for tests and benchmarks.
//!
//! Inside, code is grouped by concern: `oauth/` (discovery, registration,
//! client authentication, `/bc-authorize`, `/token`, tokens, introspection,
//! ping and push), `device/` (the device channel: enrollment, proofs, event
//! streams, decisions), `store/` (the database, one module per table
//! family), `crypto/` (signing keys, the secret key file, user codes),
//! `ops/` (operator operations), `webauthn/` (security keys and passkeys:
//! registration, the step-up of approvals).

// The public surface: the app and its state, the configuration, the
// operator operations, and (feature `test-util`) the test server. Everything
// else is grouped by concern and private.
pub mod audit;
pub mod config;
pub mod ops;
pub mod scopes;
#[cfg(feature = "test-util")]
pub mod testing;
pub mod tls;

mod admin;
mod body;
mod clock;
mod crypto;
mod device;
mod error;
mod oauth;
mod outbound;
mod schemas;
mod state;
mod store;
mod sweeper;
mod util;
mod webauthn;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use tokio::task::JoinHandle;

pub use clock::{Clock, OffsetClock, SystemClock};
pub use config::Config;
pub use error::Internal;
pub use schemas::{DetailsRejection, DisplaySchemas, RegistrySchemas};
pub use state::{AppState, HotPath};

/// The path of the issuer URL ("" for an issuer without a path).
fn issuer_path(state: &AppState) -> String {
    url::Url::parse(state.config.issuer.as_str()).map(|u| u.path().trim_end_matches('/').to_owned()).unwrap_or_default()
}

/// The HTTP application. Every route lives under the issuer's path; the
/// RFC 8414 metadata is also served at
/// `/.well-known/oauth-authorization-server{issuer path}`. No CORS layer:
/// browsers cannot call it cross-origin.
pub fn app(state: AppState) -> Router {
    use oauth::discovery::{self, paths};
    use oauth::{bc_authorize, introspect, register, token};
    let device = Router::new()
        .route("/enroll", post(device::enroll))
        .route("/enroll-preview", post(device::enroll_preview))
        .route("/enroll-link", get(device::enroll_link))
        .route("/events", get(device::events))
        .route(countersign_protocol::device::PATH_ME, get(device::me))
        .route("/requests", get(device::list_requests))
        .route("/requests/{id}", get(device::get_request))
        .route("/requests/{id}/decision", post(device::decide))
        .route(countersign_protocol::device::PATH_UNVERIFIED_BLOCK, get(device::unverified_block))
        .route(countersign_protocol::device::PATH_UNVERIFIED_BLOCK_LIFT, post(device::lift_unverified_block))
        .route(countersign_protocol::device::PATH_WEBAUTHN_REGISTRATIONS, post(webauthn::endpoints::start_registration))
        .route(
            &format!("{}/{{registration_id}}", countersign_protocol::device::PATH_WEBAUTHN_REGISTRATIONS),
            post(webauthn::endpoints::finish_registration),
        )
        .route(countersign_protocol::device::PATH_WEBAUTHN_CREDENTIALS, get(webauthn::endpoints::list_credentials))
        .route(
            &format!("{}/{{credential_id}}", countersign_protocol::device::PATH_WEBAUTHN_CREDENTIALS),
            axum::routing::delete(webauthn::endpoints::remove_credential),
        );
    let inner = Router::new()
        .route(paths::OPENID_CONFIGURATION, get(discovery::get_metadata))
        .route(paths::OAUTH_METADATA, get(discovery::get_metadata))
        .route(paths::JWKS, get(discovery::get_jwks))
        .route(paths::SCHEMAS, get(discovery::get_schemas))
        .route(paths::REGISTER, post(register::register))
        .route(paths::BC_AUTHORIZE, post(bc_authorize::bc_authorize))
        .route(paths::TOKEN, post(token::token))
        .route(paths::TOKEN_AUTH0, post(token::token))
        .route(paths::INTROSPECT, post(introspect::introspect))
        .route(paths::REVOKE, post(introspect::revoke))
        .nest(countersign_protocol::device::DEFAULT_BASE_PATH, device)
        .nest(countersign_protocol::admin::DEFAULT_BASE_PATH, admin::router());
    let base = issuer_path(&state);
    let router = if base.is_empty() {
        inner
    } else {
        Router::new()
            .nest(&base, inner)
            .route(&format!("{}{base}", paths::OAUTH_METADATA), get(discovery::get_metadata))
    };
    router.layer(DefaultBodyLimit::max(state.config.max_body_bytes)).with_state(state)
}

/// Starts the background tasks (notification delivery, expiry sweeper and,
/// on PostgreSQL, the wake-ups across instances).
/// They stop when the hub is shut down (as [`serve`] does).
pub fn spawn_background(state: &AppState) -> Vec<JoinHandle<()>> {
    let mut tasks = vec![tokio::spawn(oauth::notify::run(state.clone())), tokio::spawn(sweeper::run(state.clone()))];
    tasks.extend(device::fanout::spawn(state));
    tasks
}

/// Serves [`app`] on `listener` until `shutdown` completes, then ends the
/// event streams and background tasks and waits for open requests.
///
/// # Errors
/// The listener failed.
pub async fn serve<L>(
    listener: L,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let tasks = spawn_background(&state);
    let hub_state = state.clone();
    // Through `tap_io` (doing nothing): axum gives the peer's address to
    // any listener so wrapped, a TCP one or `tls::TlsListener`.
    let listener = axum::serve::ListenerExt::tap_io(listener, |_| {});
    let result = axum::serve(listener, app(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown.await;
            hub_state.hub.shutdown();
        })
        .await;
    for t in tasks {
        let _ = t.await;
    }
    result
}
