//! `app(state)` driven in-process with `tower::ServiceExt::oneshot`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use countersign_protocol::device::Issuer;
use countersign_server::testing::test_config;
use countersign_server::{app, AppState, OffsetClock, RegistrySchemas};
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt as _;

async fn state(issuer: &str) -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = countersign_server::ops::open_database(&dir.path().join("t.db")).await.unwrap();
    let config = test_config(Issuer::new(issuer).unwrap());
    let state = AppState::new(config, db, Arc::new(OffsetClock::new()), Arc::new(RegistrySchemas::builtin().unwrap()))
        .await
        .unwrap();
    (state, dir)
}

async fn get(state: &AppState, uri: &str) -> (StatusCode, Value) {
    let resp = app(state.clone()).oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn issuer_with_a_path_is_served_under_it_and_rfc8414_inserts_it() {
    let (state, _dir) = state("https://auth.example.com/tenant-a").await;
    let (s, oidc) = get(&state, "/tenant-a/.well-known/openid-configuration").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(oidc["issuer"], "https://auth.example.com/tenant-a");
    assert_eq!(oidc["token_endpoint"], "https://auth.example.com/tenant-a/token");
    assert_eq!(oidc["countersign_device_endpoint"], "https://auth.example.com/tenant-a/device/v1");
    let (s, rfc8414) = get(&state, "/.well-known/oauth-authorization-server/tenant-a").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(rfc8414, oidc);
    let (s, jwks) = get(&state, "/tenant-a/jwks").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(jwks["keys"][0]["alg"], "ES256");
    assert_eq!(jwks["keys"][0]["use"], "sig");
    assert_eq!(get(&state, "/.well-known/openid-configuration").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn device_calls_without_a_proof_are_401_with_the_device_challenge() {
    let (state, _dir) = state("https://auth.example.com").await;
    let resp = app(state.clone())
        .oneshot(Request::get("/device/v1/requests?status=pending").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers()["www-authenticate"], "Device error=\"invalid_token\"");
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["error"], "invalid_token");
}

#[tokio::test]
async fn the_signing_key_survives_reopening_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    let mk = || async {
        let db = countersign_server::ops::open_database(&path).await.unwrap();
        let config = test_config(Issuer::new("https://auth.example.com").unwrap());
        AppState::new(config, db, Arc::new(OffsetClock::new()), Arc::new(RegistrySchemas::builtin().unwrap()))
            .await
            .unwrap()
    };
    let a = mk().await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the database holds private keys: owner only");
    }
    let (_, jwks_a) = get(&a, "/jwks").await;
    a.db.close().await;
    let b = mk().await;
    let (_, jwks_b) = get(&b, "/jwks").await;
    assert_eq!(jwks_a, jwks_b);
}

#[tokio::test]
async fn enrollment_preview_is_served_under_the_issuer_path_and_only_reads() {
    let (state, _dir) = state("https://auth.example.com/tenant-a").await;
    let now = state.now();
    let user = countersign_server::ops::add_user(
        &state.db,
        &countersign_server::ops::NewUser { username: "zoe".into(), name: "Zoë".into(), email: None, admin: false },
        &countersign_server::ops::Actor::Operator,
        now,
    )
    .await
    .unwrap();
    let link =
        countersign_server::ops::enrollment_link(&state.db, &state.config.issuer, "zoe", 300, now).await.unwrap();
    let post = |uri: &str| {
        let body = serde_json::json!({ "ticket": link.ticket().secret() }).to_string();
        let req = Request::post(uri).header("content-type", "application/json").body(Body::from(body)).unwrap();
        app(state.clone()).oneshot(req)
    };
    let resp = post("/tenant-a/device/v1/enroll-preview").await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["user"]["sub"], user.sub.as_str());
    assert_eq!(body["user"]["name"], "Zoë");
    assert_eq!(body["expires_at"], now + 300);
    assert_eq!(post("/device/v1/enroll-preview").await.unwrap().status(), StatusCode::NOT_FOUND);
    let unused: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM enrollment_tickets WHERE used_at IS NULL")
        .fetch_one(&state.db)
        .await
        .unwrap();
    assert_eq!(unused, 1, "the preview did not spend the ticket");
}

// The admin API lives under an issuer's path, as its metadata says: there
// it asks for a device proof; at the root there is nothing.
#[tokio::test]
async fn the_admin_api_is_served_under_the_issuer_path() {
    let (state, _dir) = state("https://auth.example.com/tenant-a").await;
    let (_, oidc) = get(&state, "/tenant-a/.well-known/openid-configuration").await;
    assert_eq!(oidc["countersign_admin_endpoint"], "https://auth.example.com/tenant-a/admin/v1");
    let resp = app(state.clone())
        .oneshot(Request::get("/tenant-a/admin/v1/users").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers()["www-authenticate"], "Device error=\"invalid_token\"");
    assert_eq!(get(&state, "/admin/v1/users").await.0, StatusCode::NOT_FOUND);
}

/// `COUNTERSIGN_TEST_HOT_PATH` decides where every test server's hot paths
/// run (`cargo xtask test` runs the suite with `pool` too): the request
/// writer and reader exist exactly when it is not `pool` and the server is
/// on SQLite (not on PostgreSQL, `COUNTERSIGN_TEST_POSTGRES`).
#[tokio::test]
async fn test_servers_put_the_hot_paths_where_the_environment_says() {
    let server = countersign_server::testing::spawn_test_server(Default::default()).await.unwrap();
    let pool = std::env::var(countersign_server::testing::ENV_HOT_PATH).is_ok_and(|v| v == "pool")
        || std::env::var_os(countersign_server::testing::ENV_POSTGRES).is_some();
    assert_eq!((server.state.writer.is_none(), server.state.reader.is_none()), (pool, pool));
    server.stop().await;
}
