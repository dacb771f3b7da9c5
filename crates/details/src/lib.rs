//! Countersign display schemas: what you see is what you sign.
//!
//! An agent's `authorization_details` (RFC 9396) are validated on the server
//! and rendered in every approver from the same display schemas: one JSON
//! Schema (draft 2020-12) per type, with display hints under `x-countersign`.
//! The user's signature covers the details and the hash of each schema used
//! to render them ([`Registry::display_schemas`]).
//!
//! ```
//! use countersign_details::{render, Registry, RenderOptions};
//! use countersign_protocol::rar::AuthorizationDetails;
//!
//! let registry = Registry::builtin()?;
//! let details = AuthorizationDetails::from_param(
//!     r#"[{"type":"urn:countersign:details:v1:stock_trade","action":"buy","symbol":"AAPL",
//!          "quantity":"10","order_type":"market"}]"#,
//! )?;
//! registry.validate(&details).map_err(|v| v[0].to_string())?;
//! let model = render(&details, &registry, &RenderOptions::default());
//! assert!(model.approvable);
//! assert_eq!(model.details[0].summary.as_ref().map(|s| s.text.as_str()), Some("buy 10 AAPL (market)"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The format, the rules and the warnings are documented in
//! `docs/display-schema.md`.

mod format;
pub mod limits;
pub mod model;
mod registry;
mod render;
mod schema;
pub mod text;

pub use model::{
    CharFinding, DetailView, DisplayModel, Field, FieldValue, Format, JsonType, LabelSource, RenderOptions, Renderer,
    RequestStatus, Risk, Severity, Summary, SummaryPart, Warning, WarningCode, WorstWarning,
};
pub use registry::{Registry, RegistryError, Violation, BUILTIN_SCHEMAS, DOCUMENT_VERSION, META_SCHEMA, URN_PREFIX};
pub use render::{render, render_param};
pub use schema::HINTS;

impl Registry {
    /// [`render`] with this registry.
    #[must_use]
    pub fn render(
        &self,
        details: &countersign_protocol::rar::AuthorizationDetails,
        options: &RenderOptions,
    ) -> DisplayModel {
        render(details, self, options)
    }
}
