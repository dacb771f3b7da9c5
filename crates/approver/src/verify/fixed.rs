//! DANGER, tests only: a verifier that answers without asking anyone.

use super::{Availability, UserVerifier, VerifyError, ENV_DANGER_FIXED_VERIFIER};
use countersign_protocol::amr::Amr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// What a [`FixedVerifier`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixedAnswer {
    /// Verified, amr `user`.
    Verified,
    /// Refused.
    Refused,
    /// Cancelled.
    Cancelled,
    /// No verification here.
    Unavailable,
}

/// Answers every verification with its [`FixedAnswer`] and counts the
/// verifications asked for (tests check that a denial never asks).
#[derive(Debug, Clone)]
pub struct FixedVerifier {
    answer: FixedAnswer,
    asked: Arc<AtomicUsize>,
    last_reason: Arc<std::sync::Mutex<Option<String>>>,
}

impl FixedVerifier {
    /// A verifier answering `answer`.
    #[must_use]
    pub fn new(answer: FixedAnswer) -> Self {
        Self { answer, asked: Arc::default(), last_reason: Arc::default() }
    }

    /// From [`ENV_DANGER_FIXED_VERIFIER`], when set to a known answer.
    #[must_use]
    pub fn from_env() -> Option<Self> {
        let answer = match std::env::var(ENV_DANGER_FIXED_VERIFIER).ok()?.as_str() {
            "verified" => FixedAnswer::Verified,
            "refused" => FixedAnswer::Refused,
            "cancelled" => FixedAnswer::Cancelled,
            "unavailable" => FixedAnswer::Unavailable,
            _ => return None,
        };
        Some(Self::new(answer))
    }

    /// How many verifications were asked for.
    #[must_use]
    pub fn asked(&self) -> usize {
        self.asked.load(Ordering::SeqCst)
    }

    /// The reason of the last verification asked for.
    #[must_use]
    pub fn last_reason(&self) -> Option<String> {
        self.last_reason.lock().ok().and_then(|r| r.clone())
    }
}

impl UserVerifier for FixedVerifier {
    fn method(&self) -> &'static str {
        "fixed (tests only)"
    }

    fn availability(&self) -> Availability {
        match self.answer {
            FixedAnswer::Unavailable => Availability::Unavailable("the test verifier is set to unavailable".into()),
            _ => Availability::Available,
        }
    }

    fn verify(&self, reason: &str) -> Result<Vec<Amr>, VerifyError> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut r) = self.last_reason.lock() {
            *r = Some(reason.to_owned());
        }
        match self.answer {
            FixedAnswer::Verified => Ok(vec![Amr::User]),
            FixedAnswer::Refused => Err(VerifyError::Refused("the test verifier refuses".into())),
            FixedAnswer::Cancelled => Err(VerifyError::Cancelled),
            FixedAnswer::Unavailable => Err(VerifyError::Unavailable("the test verifier is set to unavailable".into())),
        }
    }
}
