//! The server's own keys: the ES256 signing keys (persisted in the
//! database, published, rotated), the secret key file beside the database
//! (HKDF per purpose), and the user codes kept as HMACs under it.

pub mod secret_key;
pub mod signing_keys;
pub mod user_code;
