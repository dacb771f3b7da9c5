//! What the user sees, and the display schemas that are signed with it.
//!
//! Every request is rendered by `countersign_details::render` with the
//! registry of its account's server (the schemas fetched from its
//! `authorization_details_schemas_endpoint` and cached pinned by hash, see
//! [`crate::schemas`]). The statement's `display_schemas` is the rendering's
//! own [`DisplayModel::display_schemas`], i.e. `display_schemas(&details)` of
//! exactly the registry used to render, so what is signed follows what is
//! shown.
//!
//! [`Approver::view`] and [`Approver::inbox_views`] are what shells show; they
//! remember the `display_schemas` shown for each pending request, and an
//! approval is refused ([`Error::ReviewRequired`]) when the schemas changed
//! since: the user must see the new rendering before approving.

use crate::approver::{Approver, Inner};
use crate::error::{Error, Result};
use crate::store::{InboxItem, LocalStatus};
use countersign_details::text::check_value;
use countersign_details::{DisplayModel, Format, Registry, RenderOptions, RequestStatus, Warning};
use countersign_protocol::device::{ApproverRequest, EnrolledUser, SchemaHash};
use serde::Serialize;
use std::collections::BTreeMap;

/// A stored request with its rendering: what a shell shows.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestView {
    /// The stored request and its local status.
    pub item: InboxItem,
    /// The rendering of its `authorization_details` (`docs/display-schema.md`
    /// §7): title, summary, risk, fields, warnings, and the `display_schemas`
    /// an approval signs.
    pub display: DisplayModel,
    /// Whether "approve" may be offered: pending and not expired, the
    /// rendering is approvable (no schema violation, not over a limit), and
    /// every step-up the request requires is one this approver can perform
    /// (`webauthn` where the approver announces the `webauthn` capability:
    /// its shell offers a security key with the approval). Denying is
    /// always possible while pending.
    pub approvable: bool,
    /// Whether approving needs the user's security key (the request
    /// `requires` `webauthn`): shells say so before the user approves.
    pub security_key_required: bool,
    /// How approving verifies the person (the request `requires`
    /// `user_verification`): shells say so before the user approves, and
    /// when it is not possible here, why (then `approvable` is false).
    pub user_verification: crate::gate::VerificationStep,
    /// Whether approving needs the binding message typed
    /// ([`crate::confirm`]: high or critical risk, or `requires:
    /// user_verification`). Shells ask for it whenever this is true and
    /// pass what was typed to [`Approver::decide`], which checks it.
    pub confirmation_required: bool,
    /// Findings in the request's own strings (client name, binding message,
    /// scope…), which come from the agent and its server like the details:
    /// one entry per flagged string. Each also adds a request-level warning
    /// to `display.warnings`.
    pub request_text: Vec<TextFinding>,
    /// The access the agent asks for besides `authorization_details`: the
    /// API the token is for and each scope with its description. For a
    /// scope-only request it is everything the user approves.
    pub access: AccessView,
}

/// The access request block: what a token for this request opens. Every
/// string in it comes from the server (the scope registry, the operator's
/// API names) or the agent (scope names): shown as text, checked like the
/// others ([`request_text`]: `/audience`, `/scope/{i}`,
/// `/scope_descriptions/{scope}`), each finding marked where it stands.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessView {
    /// `true` when the request has no `authorization_details`: this block
    /// is all it asks for ("access request").
    pub scope_only: bool,
    /// The API the token is for (its `aud`); `null`: the server itself.
    pub audience: Option<String>,
    /// The requested scopes, in request order.
    pub scopes: Vec<ScopeView>,
}

/// One requested scope as shown.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopeView {
    /// The scope, as requested.
    pub scope: String,
    /// JSON Pointer of the scope in the request (`/scope/{i}`), the key of
    /// its findings in `request_text`.
    pub field: String,
    /// The server's description; `null`: the scope is unknown to the server
    /// (flagged: nobody says what it grants).
    pub description: Option<String>,
    /// JSON Pointer of the description (`/scope_descriptions/{scope}`),
    /// the key of its findings in `request_text`.
    pub description_field: String,
}

/// JSON Pointer token escaping (RFC 6901 §3).
fn pointer_token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

impl AccessView {
    /// The block of `request`.
    #[must_use]
    pub fn of(request: &ApproverRequest) -> Self {
        AccessView {
            scope_only: request.is_scope_only(),
            audience: request.audience.as_ref().map(|a| a.as_str().to_owned()),
            scopes: request
                .scope
                .iter()
                .enumerate()
                .map(|(i, s)| ScopeView {
                    scope: s.clone(),
                    field: format!("/scope/{i}"),
                    description: request.scope_description(s).map(str::to_owned),
                    description_field: format!("/scope_descriptions/{}", pointer_token(s)),
                })
                .collect(),
        }
    }

    /// Positions (0-based, request order) of the scopes the server does not
    /// describe.
    #[must_use]
    pub fn unknown_scopes(&self) -> Vec<usize> {
        self.scopes.iter().enumerate().filter(|(_, s)| s.description.is_none()).map(|(i, _)| i).collect()
    }
}

/// A request-level warning for each scope the server does not describe:
/// nobody can tell the user what it grants. The message names the scope by
/// position only (its characters are checked as `/scope/{i}`).
fn add_unknown_scope_warnings(display: &mut DisplayModel, access: &AccessView) {
    for i in access.unknown_scopes() {
        display.add_warning(Warning {
            code: countersign_details::WarningCode::NoSchema,
            severity: countersign_details::Severity::Caution,
            index: None,
            path: None,
            in_key: false,
            message: format!(
                "Requested scope {i} is unknown to the server: nothing describes what it lets the agent do"
            ),
            message_characters: Vec::new(),
            characters: Vec::new(),
        });
    }
}

/// The findings of one request-level string.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextFinding {
    /// JSON Pointer of the string within the request, e.g.
    /// `/client/client_name`, `/scope/0`.
    pub field: String,
    /// The `countersign_details` checks on it (`index` and `path` `null`);
    /// their `characters` are what the UI marks in the string.
    pub warnings: Vec<Warning>,
}

/// What a request-level string is, for the warning: "The agent's name".
fn describe_field(field: &str) -> String {
    match field {
        "/client/client_name" => "The agent's name".to_owned(),
        "/client/client_id" => "The agent's client id".to_owned(),
        "/user/name" => "The user's name".to_owned(),
        "/user/sub" => "The user's id".to_owned(),
        "/binding_message" => "The binding code".to_owned(),
        "/acr_values" => "The requested authentication level".to_owned(),
        "/context/ip" => "The agent's IP address".to_owned(),
        "/context/user_agent" => "The agent software".to_owned(),
        "/context/location" => "The agent's location".to_owned(),
        "/audience" => "The API the token is for".to_owned(),
        other => match (other.strip_prefix("/scope/"), other.strip_prefix("/scope_descriptions/")) {
            (Some(i), _) => format!("Requested scope {i}"),
            (_, Some(_)) => "A scope's description".to_owned(),
            _ => format!("The request's {other}"),
        },
    }
}

/// Runs the `countersign_details` text checks over every string of
/// `request` outside its `authorization_details`; only flagged strings are
/// listed.
#[must_use]
pub fn request_text(request: &ApproverRequest) -> Vec<TextFinding> {
    let ip = request.context.ip.map(|ip| ip.to_string());
    let mut strings: Vec<(String, &str, Format)> = vec![
        ("/client/client_name".to_owned(), request.client.client_name.as_str(), Format::Text),
        ("/client/client_id".to_owned(), request.client.client_id.as_str(), Format::Text),
        ("/user/name".to_owned(), request.user.name.as_str(), Format::Text),
        ("/user/sub".to_owned(), request.user.sub.as_str(), Format::Text),
        ("/binding_message".to_owned(), request.binding_message.as_str(), Format::Text),
    ];
    strings.extend(request.scope.iter().enumerate().map(|(i, s)| (format!("/scope/{i}"), s.as_str(), Format::Text)));
    // The descriptions shown beside the scopes, in request order.
    strings.extend(request.scope.iter().filter_map(|s| {
        request.scope_description(s).map(|d| (format!("/scope_descriptions/{}", pointer_token(s)), d, Format::Text))
    }));
    let audience = request.audience.as_ref().map(|a| a.as_str());
    let optional = [
        ("/audience", audience),
        ("/acr_values", request.acr_values.as_deref()),
        ("/context/ip", ip.as_deref()),
        ("/context/user_agent", request.context.user_agent.as_deref()),
        ("/context/location", request.context.location.as_deref()),
    ];
    strings.extend(optional.into_iter().filter_map(|(f, s)| s.map(|s| (f.to_owned(), s, Format::Text))));
    findings(strings)
}

/// The `countersign_details` checks over `(JSON Pointer, string, format)`
/// triples; only flagged strings are listed.
fn findings<'a>(strings: impl IntoIterator<Item = (String, &'a str, Format)>) -> Vec<TextFinding> {
    strings
        .into_iter()
        .filter_map(|(field, s, format)| {
            let warnings = check_value(s, format);
            (!warnings.is_empty()).then_some(TextFinding { field, warnings })
        })
        .collect()
}

/// The same checks as [`request_text`] over the user an enrollment preview
/// names (`/user/name`, `/user/sub`): hidden, bidirectional and control
/// characters, mixed scripts. Only flagged strings are listed.
#[must_use]
pub fn user_text(user: &EnrolledUser) -> Vec<TextFinding> {
    findings([
        ("/user/name".to_owned(), user.name.as_str(), Format::Text),
        ("/user/sub".to_owned(), user.sub.as_str(), Format::Text),
    ])
}

/// Adds a request-level warning to `display` for each finding of
/// `request_text`, e.g. "The agent's name: 1 bidirectional control …".
fn add_request_warnings(display: &mut DisplayModel, request_text: &[TextFinding]) {
    for finding in request_text {
        let what = describe_field(&finding.field);
        for w in &finding.warnings {
            let mut w = w.clone().with_prefix(&format!("{what}: "));
            w.index = None;
            w.path = None;
            display.add_warning(w);
        }
    }
}

/// Renders the `authorization_details` of `request` with `registry`.
#[must_use]
pub fn render(request: &ApproverRequest, registry: &Registry, options: &RenderOptions) -> DisplayModel {
    registry.render(&request.authorization_details, options)
}

/// Why the rendering itself forbids approval (`None`: it allows it).
#[must_use]
pub fn unapprovable_reason(display: &DisplayModel) -> Option<&'static str> {
    match display.status {
        _ if display.approvable => None,
        RequestStatus::Refused => Some("the request is over a limit or unreadable, so it was not rendered"),
        RequestStatus::Invalid | RequestStatus::Valid => Some("a detail does not match its display schema"),
    }
}

/// The JSON recorded as "shown" for a rendering.
pub(crate) fn shown_json(schemas: &BTreeMap<String, SchemaHash>) -> Result<String> {
    serde_json::to_string(schemas).map_err(|e| Error::Store(format!("display schemas: {e}")))
}

impl RequestView {
    /// The view of a stored request from its rendering (`display`, as
    /// [`render`] makes it) at `now`: the request's own strings are
    /// checked (each finding also a warning of `display`), and
    /// `approvable` and `confirmation_required` are decided.
    /// No security key is offered: a request requiring `webauthn` is not
    /// approvable; nor is one requiring user verification, which was not
    /// checked ([`RequestView::build_with`]).
    #[must_use]
    pub fn build(item: InboxItem, display: DisplayModel, now: u64) -> RequestView {
        Self::build_with(item, display, now, false, &crate::verify::VerifierStatus::unchecked())
    }

    /// [`RequestView::build`], `security_keys`: whether the shell offers a
    /// security key with an approval; `verifier`: whether the OS can verify
    /// the person here.
    #[must_use]
    pub fn build_with(
        item: InboxItem,
        mut display: DisplayModel,
        now: u64,
        security_keys: bool,
        verifier: &crate::verify::VerifierStatus,
    ) -> RequestView {
        let request_text = request_text(&item.request);
        add_request_warnings(&mut display, &request_text);
        let access = AccessView::of(&item.request);
        add_unknown_scope_warnings(&mut display, &access);
        // The checks `decide` makes before the confirmation (crate::gate).
        let approvable = crate::gate::decidable(&item, now).is_ok()
            && display.approvable
            && crate::gate::requirements_met_with(&item.request, security_keys, verifier).is_ok();
        let confirmation_required = crate::confirm::confirmation_required(&item.request, &display);
        let security_key_required = crate::gate::needs_security_key(&item.request);
        let user_verification = crate::gate::verification_step(&item.request, verifier);
        RequestView {
            item,
            display,
            approvable,
            security_key_required,
            user_verification,
            confirmation_required,
            request_text,
            access,
        }
    }
}

impl Inner {
    /// The rendering of `item` with its server's cached schemas.
    pub(crate) async fn view_of(&self, item: InboxItem) -> Result<RequestView> {
        let registry = self.registry_of_account(&item.account_id).await?;
        let verifier = self.verifier_status().await;
        Ok(self.view_with(item, &registry, &verifier))
    }

    /// The schemas of the server of account `account_id`.
    async fn registry_of_account(&self, account_id: &str) -> Result<Registry> {
        let account = self.store.account(account_id).await?;
        self.registry(account.issuer.as_str()).await
    }

    /// The rendering of `item` with `registry`, its account's.
    fn view_with(&self, item: InboxItem, registry: &Registry, verifier: &crate::verify::VerifierStatus) -> RequestView {
        let display = render(&item.request, registry, &self.config.render);
        let security_keys = self.config.capabilities.contains(&countersign_protocol::device::Capability::Webauthn);
        RequestView::build_with(item, display, self.now(), security_keys, verifier)
    }

    /// [`Inner::view_of`] for a list: each account's schemas and the
    /// verifier's status are read once, not once per request.
    async fn views_of(&self, items: Vec<InboxItem>) -> Result<Vec<RequestView>> {
        if items.is_empty() {
            // Nothing to render: the verifier's status can cost an OS query.
            return Ok(Vec::new());
        }
        let verifier = self.verifier_status().await;
        let mut registries: std::collections::HashMap<String, Registry> = std::collections::HashMap::new();
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let registry = match registries.entry(item.account_id.clone()) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(self.registry_of_account(&item.account_id).await?)
                }
            };
            out.push(self.view_with(item, registry, &verifier));
        }
        Ok(out)
    }

    /// Remembers the schemas the pending ones of `views` were shown with,
    /// in one write for the whole list.
    async fn shown(&self, views: &[RequestView]) -> Result<()> {
        let mut shown = Vec::with_capacity(views.len());
        for view in views.iter().filter(|v| v.item.status == LocalStatus::Pending) {
            shown.push((
                view.item.account_id.as_str(),
                view.item.request.id.as_str(),
                shown_json(&view.display.display_schemas)?,
            ));
        }
        self.store.set_shown_schemas(&shown).await
    }
}

impl Approver {
    /// A stored request rendered for the user (see [`Approver::find_request`]
    /// for `account_id`). Call it to show a request: for a pending one, the
    /// schemas of this rendering are recorded as the ones the user saw.
    ///
    /// # Errors
    /// [`Error::UnknownRequest`], [`Error::AmbiguousRequest`], the store.
    pub async fn view(&self, request_id: &str, account_id: Option<&str>) -> Result<RequestView> {
        let item = self.find_request(request_id, account_id).await?;
        let view = self.inner.view_of(item).await?;
        self.inner.shown(std::slice::from_ref(&view)).await?;
        Ok(view)
    }

    /// A stored request rendered as [`Approver::view`] does, without
    /// recording it as shown: for checking whether something the user saw
    /// elsewhere (a notification) still is what it was.
    ///
    /// # Errors
    /// [`Error::UnknownRequest`], [`Error::AmbiguousRequest`], the store.
    pub async fn peek(&self, request_id: &str, account_id: Option<&str>) -> Result<RequestView> {
        let item = self.find_request(request_id, account_id).await?;
        self.inner.view_of(item).await
    }

    /// Every pending request (not expired) rendered for the user, newest
    /// first. As with [`Approver::view`], each rendering is recorded as shown.
    ///
    /// # Errors
    /// The store.
    pub async fn inbox_views(&self) -> Result<Vec<RequestView>> {
        self.inbox_views_up_to(None).await
    }

    /// Readies what rendering a list needs the first time, so that the first
    /// screen of a shell does not wait for it: each account's cached
    /// schemas built into a registry (JSON Schemas compiled), the OS
    /// verifier's status (a polkit query on the system bus). Called at a
    /// shell's start, beside its page loading; what is readied stays cached
    /// as for any listing.
    ///
    /// # Errors
    /// The store.
    pub async fn warm_view_caches(&self) -> Result<()> {
        if self.inner.store.pending_count().await? == 0 {
            // An empty inbox renders nothing (`views_of`): nothing to ready.
            return Ok(());
        }
        self.inner.verifier_status().await;
        for account in self.inner.store.accounts().await? {
            self.inner.registry(account.issuer.as_str()).await?;
        }
        Ok(())
    }

    /// [`Approver::inbox_views`], the newest `limit` only (all with `None`):
    /// a first screen of a long inbox without rendering the rest. Only those
    /// are recorded as shown.
    ///
    /// # Errors
    /// The store.
    pub async fn inbox_views_up_to(&self, limit: Option<usize>) -> Result<Vec<RequestView>> {
        let items = match limit {
            Some(limit) => self.newest_pending(limit).await?,
            None => self.pending().await?.into_iter().rev().collect(),
        };
        let out = self.inner.views_of(items).await?;
        self.inner.shown(&out).await?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use countersign_details::Renderer;

    fn example() -> ApproverRequest {
        let text = include_str!("../../protocol/testdata/device/examples/approver-request.json");
        serde_json::from_value(countersign_protocol::jcs::parse_strict(text).unwrap()).unwrap()
    }

    fn with_details(details: serde_json::Value) -> ApproverRequest {
        let mut r = example();
        r.authorization_details = countersign_protocol::rar::AuthorizationDetails::from_value(details).unwrap();
        r
    }

    #[test]
    fn the_signed_schemas_are_those_of_the_registry_used_to_render() {
        let builtin = Registry::builtin().unwrap();
        let request = example();
        let model = render(&request, &builtin, &RenderOptions::default());
        assert_eq!(model.display_schemas, builtin.display_schemas(&request.authorization_details));
        assert_eq!(model.display_schemas["payment_initiation"], builtin.schema_hash("payment_initiation"));
        // The example's "stock_trade" is not a registered type: no schema.
        assert_eq!(model.display_schemas["stock_trade"], SchemaHash::of_no_schema());
        assert_eq!(model.details[0].renderer, Renderer::Generic);
        assert_eq!(model.details[1].renderer, Renderer::Schema);

        let empty = Registry::empty();
        let generic = render(&request, &empty, &RenderOptions::default());
        assert!(generic.display_schemas.values().all(|h| h == &SchemaHash::of_no_schema()));
        assert!(generic.approvable, "types without a schema are shown in full and approvable");
    }

    #[test]
    fn a_bidi_control_in_the_client_name_is_found_and_warned() {
        let mut request = example();
        request.client.client_name = "Acme\u{202E}tnegA".to_owned();
        request.scope.push("read\u{200B}".to_owned());
        let found = request_text(&request);
        let fields: Vec<&str> = found.iter().map(|f| f.field.as_str()).collect();
        assert!(fields.contains(&"/client/client_name"), "{fields:?}");
        assert!(fields.iter().any(|f| f.starts_with("/scope/")), "{fields:?}");
        let name = &found[0];
        assert_eq!(name.field, "/client/client_name");
        assert_eq!(name.warnings[0].code, countersign_details::WarningCode::BidiControl);
        assert_eq!(name.warnings[0].characters[0].code_point, "U+202E");
        assert_eq!(name.warnings[0].characters[0].utf16_offset, 4);

        let mut display = render(&request, &Registry::builtin().unwrap(), &RenderOptions::default());
        let before = display.warning_count;
        add_request_warnings(&mut display, &found);
        assert_eq!(display.warning_count, before + 2);
        assert_eq!(display.max_severity, Some(countersign_details::Severity::Danger));
        let w = display.warnings.iter().find(|w| w.message.starts_with("The agent's name: ")).unwrap();
        assert!(w.message.contains("U+202E RIGHT-TO-LEFT OVERRIDE"), "{}", w.message);
        assert_eq!(w.index, None);
        // The short views name the worst kind; request strings count too.
        let worst = display.worst_warning.as_ref().unwrap();
        assert_eq!(
            (worst.code, worst.text.as_str()),
            (countersign_details::WarningCode::BidiControl, "direction-changing characters")
        );

        assert!(request_text(&example()).is_empty(), "the example's strings are clean");
    }

    fn scope_only() -> ApproverRequest {
        let mut r = example();
        r.authorization_details = countersign_protocol::rar::AuthorizationDetails::none();
        r.scope = vec!["openid".into(), "files.delete".into(), "mail/read".into()];
        r.scope_descriptions = BTreeMap::from([
            ("openid".to_owned(), "Know who you are".to_owned()),
            ("mail/read".to_owned(), "Read your mail".to_owned()),
        ]);
        r
    }

    fn view_of(request: ApproverRequest) -> RequestView {
        let display = render(&request, &Registry::builtin().unwrap(), &RenderOptions::default());
        let item = InboxItem {
            account_id: "acc".into(),
            request_json: serde_json::to_string(&request).unwrap(),
            request,
            status: LocalStatus::Pending,
            status_reason: None,
            received_at: 0,
            updated_at: 0,
        };
        RequestView::build(item, display, 1)
    }

    #[test]
    fn a_scope_only_request_shows_its_access_block_and_flags_unknown_scopes() {
        let request = scope_only();
        let model = render(&request, &Registry::builtin().unwrap(), &RenderOptions::default());
        assert!(model.details.is_empty());
        assert!(model.display_schemas.is_empty(), "nothing to sign about schemas");
        assert!(model.approvable, "{:?}", model.status);
        let access = AccessView::of(&request);
        assert!(access.scope_only);
        assert_eq!(access.audience.as_deref(), Some("https://api.example.com/trading"));
        let shown: Vec<(&str, Option<&str>)> =
            access.scopes.iter().map(|s| (s.scope.as_str(), s.description.as_deref())).collect();
        assert_eq!(
            shown,
            [("openid", Some("Know who you are")), ("files.delete", None), ("mail/read", Some("Read your mail"))]
        );
        assert_eq!(access.scopes[2].description_field, "/scope_descriptions/mail~1read");
        assert_eq!(access.unknown_scopes(), [1]);
        // The unknown scope is a visible warning of the view.
        let view = view_of(scope_only());
        let w: Vec<&str> = view.display.warnings.iter().map(|w| w.message.as_str()).collect();
        assert!(w.iter().any(|m| m.starts_with("Requested scope 1 is unknown to the server")), "{w:?}");
        assert!(view.display.warnings.iter().all(|w| w.index.is_none()));
    }

    #[test]
    fn hostile_text_in_scopes_descriptions_and_the_audience_is_flagged() {
        let mut request = scope_only();
        // A bidi override and an escape sequence in an operator description,
        // a zero-width space in a scope name, a control in the audience.
        request.scope_descriptions.insert("openid".into(), "Know who\u{202E}you are".to_owned());
        request.scope_descriptions.insert("mail/read".into(), "Read \u{1b}[2J your mail".to_owned());
        request.scope[1] = "files\u{200B}.delete".to_owned();
        request.audience = None;
        let found = request_text(&request);
        let fields: Vec<&str> = found.iter().map(|f| f.field.as_str()).collect();
        assert!(fields.contains(&"/scope/1"), "{fields:?}");
        assert!(fields.contains(&"/scope_descriptions/openid"), "{fields:?}");
        assert!(fields.contains(&"/scope_descriptions/mail~1read"), "{fields:?}");
        let openid = found.iter().find(|f| f.field == "/scope_descriptions/openid").unwrap();
        assert_eq!(openid.warnings[0].code, countersign_details::WarningCode::BidiControl);
        assert_eq!(openid.warnings[0].characters[0].code_point, "U+202E");
        let mail = found.iter().find(|f| f.field == "/scope_descriptions/mail~1read").unwrap();
        assert_eq!(mail.warnings[0].code, countersign_details::WarningCode::ControlCharacter);
        let view = view_of(request);
        assert!(view
            .display
            .warnings
            .iter()
            .any(|w| w.message.starts_with("A scope's description: ") && w.message.contains("U+202E")));
        assert_eq!(view.display.max_severity, Some(countersign_details::Severity::Danger));
        // The text itself is kept as sent: shells show it with the marks.
        assert!(view.access.scopes[0].description.as_deref().unwrap().contains('\u{202E}'));

        let mut request = scope_only();
        request.audience = Some(countersign_protocol::ciba::Audience::new("https://api.example.com/x").unwrap());
        assert!(request_text(&request).is_empty(), "clean strings are not findings");
        // An audience with a lookalike letter or a bidi control does not
        // even parse: such a request is refused before it is shown.
        for bad in ["https://api.example.com/\u{0430}pi", "https://\u{202E}moc.example"] {
            let mut json = serde_json::to_value(&request).unwrap();
            json["audience"] = serde_json::json!(bad);
            assert!(serde_json::from_value::<ApproverRequest>(json).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hidden_characters_in_an_enrolled_user_are_found() {
        let clean = EnrolledUser { sub: "u_1001".into(), name: "Zoë Martin".into(), roles: vec![] };
        assert!(user_text(&clean).is_empty(), "accents are not findings");
        let user = EnrolledUser { sub: "u_1\u{200B}001".into(), name: "Zoë\u{202E}nitraM".into(), roles: vec![] };
        let found = user_text(&user);
        let fields: Vec<&str> = found.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["/user/name", "/user/sub"]);
        assert_eq!(found[0].warnings[0].code, countersign_details::WarningCode::BidiControl);
        assert_eq!(found[0].warnings[0].characters[0].code_point, "U+202E");
        assert_eq!(found[1].warnings[0].characters[0].code_point, "U+200B");
        let control = EnrolledUser { sub: "u".into(), name: "Zoë\u{1b}[2J".into(), roles: vec![] };
        assert_eq!(user_text(&control)[0].field, "/user/name");
    }

    #[test]
    fn a_schema_violation_is_not_approvable() {
        let registry = Registry::builtin().unwrap();
        let trade = serde_json::json!([{"type": "urn:countersign:details:v1:stock_trade", "action": "buy",
            "symbol": "AAPL", "quantity": "10", "order_type": "limit"}]);
        let model = render(&with_details(trade), &registry, &RenderOptions::default());
        assert!(!model.approvable);
        assert_eq!(unapprovable_reason(&model), Some("a detail does not match its display schema"));
        let ok = serde_json::json!([{"type": "urn:countersign:details:v1:stock_trade", "action": "buy",
            "symbol": "AAPL", "quantity": "10", "order_type": "market"}]);
        let model = render(&with_details(ok), &registry, &RenderOptions::default());
        assert!(model.approvable);
        assert_eq!(unapprovable_reason(&model), None);
        assert_eq!(model.details[0].summary.as_ref().unwrap().text, "buy 10 AAPL (market)");
    }
}
