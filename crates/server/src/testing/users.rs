//! Users and enrollment links on a [`TestServer`], made through the
//! operator operations (`countersign-server user add`, `enroll-link`).
//!
//! A refusal panics with the reason: these calls are the test's setup and
//! its assertions that the setup worked.

use super::TestServer;
use crate::ops::{self, NewUser, User};
use countersign_protocol::device::EnrollmentUri;

/// A user logging in as `username`, called `name`: no e-mail address, not
/// an administrator (struct update syntax changes that:
/// `NewUser { admin: true, ..new_user("root", "Root") }`).
#[must_use]
pub fn new_user(username: &str, name: &str) -> NewUser {
    NewUser { username: username.into(), name: name.into(), email: None, admin: false }
}

impl TestServer {
    /// Adds `user`, as `countersign-server user add` would.
    ///
    /// # Panics
    /// If the user is refused (a name in use, one too long).
    pub async fn create_user(&self, user: &NewUser) -> User {
        match ops::add_user(&self.state.db, user, &ops::Actor::Operator, self.state.now()).await {
            Ok(u) => u,
            Err(e) => panic!("adding user {}: {e}", user.username),
        }
    }

    /// Adds the usual test user `username` (named `"{username} name"`,
    /// e-mail `{username}@example.com`, not an administrator); its `sub`.
    ///
    /// # Panics
    /// As [`TestServer::create_user`].
    pub async fn add_user(&self, username: &str) -> String {
        let email = Some(format!("{username}@example.com"));
        self.create_user(&NewUser { email, ..new_user(username, &format!("{username} name")) }).await.sub
    }

    /// A one-time enrollment link for `username`, valid for `ttl_secs`.
    ///
    /// # Panics
    /// If there is no such (enabled) user.
    pub async fn enrollment_link(&self, username: &str, ttl_secs: u64) -> EnrollmentUri {
        let issuer = &self.state.config.issuer;
        match ops::enrollment_link(&self.state.db, issuer, username, ttl_secs, self.state.now()).await {
            Ok(link) => link,
            Err(e) => panic!("enrollment link for {username}: {e}"),
        }
    }

    /// [`TestServer::enrollment_link`] in the form an approver app opens
    /// (`countersign://enroll?...`).
    ///
    /// # Panics
    /// As [`TestServer::enrollment_link`].
    pub async fn invitation(&self, username: &str, ttl_secs: u64) -> String {
        self.enrollment_link(username, ttl_secs).await.to_app_uri()
    }
}
