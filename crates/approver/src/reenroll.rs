//! Re-enrollment: a new link for an account this approver already has. The
//! old account (with its history on this computer) is removed only once the
//! new one exists, only if both are the same user at the same server, and
//! only if none of its decisions still waits to be delivered: a failed or
//! mistaken re-enrollment never loses the account the user had, and no
//! signed decision is dropped.

use crate::approver::Approver;
use crate::error::{Error, Result};
use crate::store::Account;
use std::fmt;

/// What enrolling with a link did, and to the account it was to replace.
#[derive(Debug)]
pub struct Enrollment {
    /// The new account.
    pub account: Account,
    /// The id of the re-enrolled account, removed because the new one
    /// replaces it.
    pub replaced: Option<String>,
    /// Why the re-enrolled account was kept, if it was.
    pub kept_because: Option<KeptBecause>,
}

/// Why the account being re-enrolled was kept next to the new one.
#[derive(Debug)]
pub enum KeptBecause {
    /// The new link is for another user or another server.
    OtherUser {
        /// The new account's user name.
        new_user: String,
        /// The new account's server.
        new_issuer: String,
        /// The old account's user name.
        old_user: String,
        /// The old account's server.
        old_issuer: String,
    },
    /// This many signed decisions of the old account wait to be delivered.
    Undelivered(usize),
    /// Removing the old account failed.
    NotRemoved(Error),
}

impl fmt::Display for KeptBecause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeptBecause::OtherUser { new_user, new_issuer, old_user, old_issuer } => write!(
                f,
                "the new link is for {new_user} at {new_issuer}, not {old_user} at {old_issuer}: both accounts are kept"
            ),
            KeptBecause::Undelivered(n) => write!(
                f,
                "{n} decision(s) of the old account still wait to be delivered: both accounts are kept, \
                 remove the old one once they are delivered"
            ),
            KeptBecause::NotRemoved(error) => write!(f, "the old account could not be removed: {error}"),
        }
    }
}

impl Approver {
    /// Enrolls with `link`; with `replaces`, re-enrolls that account (see
    /// the module documentation for when the old one is removed).
    ///
    /// # Errors
    /// [`Error::UnknownAccount`] for `replaces` (before the ticket is
    /// spent), then those of [`Approver::enroll`]. Once the new account
    /// exists the call succeeds; a failure to remove the old one is
    /// [`KeptBecause::NotRemoved`].
    pub async fn enroll_replacing(&self, link: &str, replaces: Option<&str>) -> Result<Enrollment> {
        let old = match replaces {
            Some(id) => Some(
                self.accounts()
                    .await?
                    .into_iter()
                    .find(|a| a.id == id)
                    .ok_or_else(|| Error::UnknownAccount(id.to_owned()))?,
            ),
            None => None,
        };
        let account = self.enroll(link.trim()).await?;
        let kept = |account, why| Ok(Enrollment { account, replaced: None, kept_because: Some(why) });
        let Some(old) = old else {
            return Ok(Enrollment { account, replaced: None, kept_because: None });
        };
        if old.issuer != account.issuer || old.user.sub != account.user.sub {
            let why = KeptBecause::OtherUser {
                new_user: account.user.name.clone(),
                new_issuer: account.issuer.as_str().to_owned(),
                old_user: old.user.name,
                old_issuer: old.issuer.as_str().to_owned(),
            };
            return kept(account, why);
        }
        let undelivered = self.store().outbox().await?.iter().filter(|e| e.account_id == old.id).count();
        if undelivered > 0 {
            return kept(account, KeptBecause::Undelivered(undelivered));
        }
        match self.remove_account(&old.id).await {
            Ok(()) => Ok(Enrollment { account, replaced: Some(old.id), kept_because: None }),
            Err(error) => kept(account, KeptBecause::NotRemoved(error)),
        }
    }
}
