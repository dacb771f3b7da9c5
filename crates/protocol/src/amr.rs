//! Authentication method references (`amr`, RFC 8176 §2; OpenID Connect
//! Core §2): how the person who approved was verified, carried by a
//! decision (`docs/protocol.md` §8.1) and by the tokens and introspection
//! answers of an approved request.

use crate::device::registered::registered_enum;

registered_enum! {
    /// One method (RFC 8176 §2 registry). Countersign produces `user` (the
    /// operating system verified the person at the approver: polkit,
    /// LocalAuthentication, Windows Hello) and `hwk` (a security key's
    /// assertion with user verification, checked by the server); the rest
    /// are registered values kept so that a peer's list parses.
    pub enum Amr {
        /// Facial recognition.
        Face => "face",
        /// Fingerprint.
        Fpt => "fpt",
        /// Geolocation.
        Geo => "geo",
        /// Proof of possession of a hardware-secured key.
        Hwk => "hwk",
        /// Iris scan.
        Iris => "iris",
        /// Knowledge-based authentication.
        Kba => "kba",
        /// Multiple-channel authentication.
        Mca => "mca",
        /// Multiple-factor authentication.
        Mfa => "mfa",
        /// One-time password.
        Otp => "otp",
        /// Personal identification number.
        Pin => "pin",
        /// Proof of possession of a key.
        Pop => "pop",
        /// Password.
        Pwd => "pwd",
        /// Risk-based authentication.
        Rba => "rba",
        /// Retina scan.
        Retina => "retina",
        /// Smart card.
        Sc => "sc",
        /// Confirmation by SMS.
        Sms => "sms",
        /// Proof of possession of a software-secured key.
        Swk => "swk",
        /// Confirmation by telephone call.
        Tel => "tel",
        /// User presence test (RFC 8176): Countersign's OS prompt, since the
        /// operating system does not tell the caller which factor it used.
        User => "user",
        /// Voice biometric.
        Vbm => "vbm",
        /// Windows integrated authentication.
        Wia => "wia",
    } extension
}

registered_enum! {
    /// The least a decision's `amr` must show for a request that requires
    /// user verification (the server's policy, `docs/protocol.md` §8.3).
    /// A closed set.
    pub enum VerificationClass {
        /// The person was verified at the approver: `user` (an OS prompt) or
        /// `hwk` (a security key with user verification).
        User => "user",
        /// By a security key with user verification only: `hwk`.
        Hwk => "hwk",
    }
}

impl VerificationClass {
    /// Whether `amr` meets this class.
    #[must_use]
    pub fn met_by(&self, amr: &[Amr]) -> bool {
        match self {
            VerificationClass::User => amr.iter().any(|m| matches!(m, Amr::User | Amr::Hwk)),
            VerificationClass::Hwk => amr.contains(&Amr::Hwk),
        }
    }

    /// Rank for "at least": `user` < `hwk`.
    #[must_use]
    pub fn rank(&self) -> u8 {
        match self {
            VerificationClass::User => 1,
            VerificationClass::Hwk => 2,
        }
    }
}

/// `amr` in a canonical order (sorted, no repeats), as stored and sent.
#[must_use]
pub fn normalized(amr: impl IntoIterator<Item = Amr>) -> Vec<Amr> {
    let mut v: Vec<Amr> = amr.into_iter().collect();
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_met_by_what_they_name() {
        assert!(VerificationClass::User.met_by(&[Amr::User]));
        assert!(VerificationClass::User.met_by(&[Amr::Hwk]));
        assert!(!VerificationClass::User.met_by(&[]));
        assert!(!VerificationClass::User.met_by(&[Amr::Pwd, Amr::Extension("x".into())]), "only what we produce");
        assert!(VerificationClass::Hwk.met_by(&[Amr::Hwk, Amr::User]));
        assert!(!VerificationClass::Hwk.met_by(&[Amr::User]));
        assert!(VerificationClass::User.rank() < VerificationClass::Hwk.rank());
    }

    #[test]
    fn normalized_sorts_and_drops_repeats() {
        assert_eq!(normalized([Amr::User, Amr::Hwk, Amr::User]), vec![Amr::Hwk, Amr::User]);
    }
}
