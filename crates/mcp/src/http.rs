//! The gateway over streamable HTTP (`serve --listen`): `/mcp` on a local
//! address, every request carrying `Authorization: Bearer <token>` (any
//! local process can reach a loopback port, so the port alone proves
//! nothing), `Host` checked against loopback names (DNS rebinding) and any
//! browser `Origin` refused.

use crate::gateway::Gateway;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::net::SocketAddr;
use std::sync::Arc;
use subtle::ConstantTimeEq as _;

/// The environment variable holding the bearer token.
pub const ENV_HTTP_TOKEN: &str = "COUNTERSIGN_MCP_HTTP_TOKEN";
/// The shortest token accepted.
pub const MIN_TOKEN_CHARS: usize = 32;
/// The path served.
pub const PATH: &str = "/mcp";

/// The bearer token clients present; redacted in `Debug`.
#[derive(Clone)]
pub struct HttpToken(Arc<str>);

impl std::fmt::Debug for HttpToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpToken(<redacted>)")
    }
}

impl HttpToken {
    /// A token of at least [`MIN_TOKEN_CHARS`] visible ASCII characters.
    ///
    /// # Errors
    /// Why it is refused (never the token itself).
    pub fn new(token: &str) -> Result<Self, String> {
        if token.len() < MIN_TOKEN_CHARS || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "the bearer token in {ENV_HTTP_TOKEN} must be at least {MIN_TOKEN_CHARS} visible ASCII characters"
            ));
        }
        Ok(Self(token.into()))
    }

    fn accepts(&self, header: Option<&[u8]>) -> bool {
        let Some(presented) = header.and_then(|h| h.strip_prefix(b"Bearer ")) else { return false };
        bool::from(presented.ct_eq(self.0.as_bytes()))
    }
}

async fn bearer(token: HttpToken, request: Request, next: Next) -> Response {
    let presented = request.headers().get(header::AUTHORIZATION).map(axum::http::HeaderValue::as_bytes);
    if token.accepts(presented) {
        next.run(request).await
    } else {
        (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], "").into_response()
    }
}

/// The app: `/mcp` behind the bearer check.
pub fn app(gateway: Gateway, token: HttpToken) -> axum::Router {
    let config = StreamableHttpServerConfig::default().enforce_origin_validation();
    let service =
        StreamableHttpService::new(move || Ok(gateway.clone()), Arc::new(LocalSessionManager::default()), config);
    axum::Router::new()
        .nest_service(PATH, service)
        .layer(middleware::from_fn(move |request: Request, next: Next| bearer(token.clone(), request, next)))
}

/// Serves `app` on `addr` until the process ends: prints the URL on
/// standard error once listening.
///
/// # Errors
/// The address cannot be bound, or serving failed.
pub async fn serve(gateway: Gateway, addr: SocketAddr, token: HttpToken) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!("countersign-mcp: serving MCP at http://{local}{PATH}");
    axum::serve(listener, app(gateway, token)).await.map_err(|e| format!("serving on {local}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_checked_whole_and_kept_out_of_debug() {
        let t = HttpToken::new("0123456789abcdef0123456789abcdef").unwrap();
        assert!(t.accepts(Some(b"Bearer 0123456789abcdef0123456789abcdef")));
        assert!(!t.accepts(Some(b"Bearer 0123456789abcdef0123456789abcde")));
        assert!(!t.accepts(Some(b"Bearer 0123456789abcdef0123456789abcdefX")));
        assert!(!t.accepts(Some(b"bearer 0123456789abcdef0123456789abcdef")));
        assert!(!t.accepts(Some(b"0123456789abcdef0123456789abcdef")));
        assert!(!t.accepts(None));
        assert_eq!(format!("{t:?}"), "HttpToken(<redacted>)");
        let e = HttpToken::new("short").unwrap_err();
        assert!(e.contains("at least 32") && !e.contains("short"), "{e}");
        assert!(HttpToken::new(&format!("{}\u{e9}", "a".repeat(40))).is_err());
    }
}
