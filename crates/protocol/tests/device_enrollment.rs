//! Enrollment URI, issuer rules, enrollment messages.

use countersign_protocol::device::enroll::{check_ticket, EnrollmentRequestError, TicketError};
use countersign_protocol::device::{
    Capability, EnrolledUser, EnrollmentPreviewRequest, EnrollmentPreviewResponse, EnrollmentRequest, EnrollmentUri,
    EnrollmentUriError, Issuer, IssuerError, Platform, Role,
};
use countersign_protocol::secret::EnrollmentTicket;
use serde_json::{json, Value};

mod common;

const TICKET: &str = "9e7dLqz2IarV9t3HFBQzBKmySsX_vnca7id-d0E3Swc";
const APP: &str =
    "countersign://enroll?issuer=https%3A%2F%2Fauth.example.com&ticket=9e7dLqz2IarV9t3HFBQzBKmySsX_vnca7id-d0E3Swc";
const LINK: &str = "https://auth.example.com/device/v1/enroll-link?ticket=9e7dLqz2IarV9t3HFBQzBKmySsX_vnca7id-d0E3Swc";

fn app(issuer: &str) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("issuer", issuer)
        .append_pair("ticket", TICKET)
        .finish();
    format!("countersign://enroll?{q}")
}

fn err(text: &str) -> EnrollmentUriError {
    EnrollmentUri::parse(text).expect_err(text)
}

#[test]
fn parses_app_uri() {
    let u = EnrollmentUri::parse(APP).unwrap();
    assert_eq!(u.issuer().as_str(), "https://auth.example.com");
    assert_eq!(u.ticket().secret(), TICKET);
}

#[test]
fn parses_https_link() {
    let u = EnrollmentUri::parse(LINK).unwrap();
    assert_eq!(u.issuer().as_str(), "https://auth.example.com");
    assert_eq!(u.ticket().secret(), TICKET);
}

#[test]
fn formats_both_spellings_exactly() {
    let u = EnrollmentUri::new(Issuer::new("https://auth.example.com").unwrap(), EnrollmentTicket::new(TICKET.into()))
        .unwrap();
    assert_eq!(u.to_app_uri(), APP);
    assert_eq!(u.to_https_link(), LINK);
}

#[test]
fn round_trips_issuer_with_path_and_port() {
    let issuer = Issuer::new("https://id.example.org:8443/tenants/acme").unwrap();
    let u = EnrollmentUri::new(issuer.clone(), EnrollmentTicket::new(TICKET.into())).unwrap();
    assert_eq!(EnrollmentUri::parse(&u.to_app_uri()).unwrap(), u);
    assert_eq!(
        u.to_https_link(),
        format!("https://id.example.org:8443/tenants/acme/device/v1/enroll-link?ticket={TICKET}")
    );
    assert_eq!(EnrollmentUri::parse(&u.to_https_link()).unwrap(), u);
}

#[test]
fn parameter_order_does_not_matter() {
    let text = format!("countersign://enroll?ticket={TICKET}&issuer=https%3A%2F%2Fauth.example.com");
    assert_eq!(EnrollmentUri::parse(&text).unwrap(), EnrollmentUri::parse(APP).unwrap());
}

#[test]
fn debug_does_not_show_the_ticket() {
    let dbg = format!("{:?}", EnrollmentUri::parse(APP).unwrap());
    assert!(!dbg.contains(TICKET), "{dbg}");
    assert!(dbg.contains("<redacted>"));
}

/// One test per text: [`err`] gives exactly `error`.
macro_rules! uri_refused_as {
    ($($test:ident: $text:expr => $error:expr;)+) => {$(
        #[test]
        fn $test() {
            assert_eq!(err(&$text), $error);
        }
    )+};
}

uri_refused_as! {
    refuses_wrong_scheme:
        APP.replace("countersign:", "otpauth:") => EnrollmentUriError::UnsupportedScheme("otpauth".into());
    refuses_wrong_host: APP.replace("//enroll?", "//login?") => EnrollmentUriError::WrongHost("login".into());
    refuses_userinfo_in_app_uri:
        APP.replace("//enroll?", "//me@enroll?") => EnrollmentUriError::WrongHost("me@enroll".into());
    refuses_app_uri_with_path: APP.replace("//enroll?", "//enroll/x?") => EnrollmentUriError::WrongPath("/x".into());
    refuses_link_with_wrong_path:
        LINK.replace("/enroll-link", "/enroll") => EnrollmentUriError::WrongPath("/device/v1/enroll".into());
    refuses_fragment: format!("{APP}#x") => EnrollmentUriError::Fragment;
    refuses_missing_issuer:
        format!("countersign://enroll?ticket={TICKET}") => EnrollmentUriError::MissingParam("issuer");
    refuses_duplicate_ticket: format!("{APP}&ticket={TICKET}") => EnrollmentUriError::DuplicateParam("ticket");
    refuses_duplicate_issuer:
        format!("{APP}&issuer=https%3A%2F%2Fevil.example") => EnrollmentUriError::DuplicateParam("issuer");
    refuses_unknown_param: format!("{APP}&role=admin") => EnrollmentUriError::UnknownParam("role".into());
    // The link's issuer is its own origin and path; it never takes another.
    refuses_issuer_param_in_https_link:
        format!("{LINK}&issuer=https%3A%2F%2Fevil.example") => EnrollmentUriError::UnknownParam("issuer".into());
    refuses_http_issuer:
        app("http://auth.example.com") => EnrollmentUriError::Issuer(IssuerError::InsecureScheme("http".into()));
    refuses_http_link:
        LINK.replace("https:", "http:") => EnrollmentUriError::Issuer(IssuerError::InsecureScheme("http".into()));
    refuses_issuer_with_query: app("https://auth.example.com?x=1") => EnrollmentUriError::Issuer(IssuerError::Query);
    refuses_issuer_with_fragment:
        app("https://auth.example.com#f") => EnrollmentUriError::Issuer(IssuerError::Fragment);
    refuses_issuer_with_userinfo:
        app("https://user:pw@auth.example.com") => EnrollmentUriError::Issuer(IssuerError::Userinfo);
    refuses_issuer_with_trailing_slash:
        app("https://auth.example.com/") => EnrollmentUriError::Issuer(IssuerError::TrailingSlash);
    refuses_short_ticket: APP.replace(TICKET, &TICKET[..42]) => EnrollmentUriError::Ticket(TicketError::Length(42));
}

#[test]
fn refuses_missing_ticket() {
    assert_eq!(
        err("countersign://enroll?issuer=https%3A%2F%2Fauth.example.com"),
        EnrollmentUriError::MissingParam("ticket")
    );
    assert_eq!(err("https://auth.example.com/device/v1/enroll-link"), EnrollmentUriError::MissingParam("ticket"));
}

#[test]
fn accepts_http_loopback_issuers() {
    for issuer in ["http://localhost:8080", "http://127.0.0.1:3000", "http://[::1]:3000", "http://localhost"] {
        let u = EnrollmentUri::parse(&app(issuer)).unwrap_or_else(|e| panic!("{issuer}: {e}"));
        assert_eq!(u.issuer().as_str(), issuer);
        assert!(u.issuer().is_loopback_http());
    }
}

#[test]
fn refuses_http_lookalike_loopback() {
    for issuer in ["http://localhost.evil.example", "http://127.0.0.2", "http://0.0.0.0"] {
        assert!(matches!(err(&app(issuer)), EnrollmentUriError::Issuer(IssuerError::InsecureScheme(_))), "{issuer}");
    }
}

#[test]
fn refuses_issuer_not_in_normal_form() {
    assert_eq!(
        err(&app("https://Auth.Example.com")),
        EnrollmentUriError::Issuer(IssuerError::NotCanonical("https://auth.example.com".into()))
    );
    assert_eq!(
        err(&app("https://auth.example.com:443/a")),
        EnrollmentUriError::Issuer(IssuerError::NotCanonical("https://auth.example.com/a".into()))
    );
}

#[test]
fn refuses_issuer_that_is_not_a_url() {
    assert!(matches!(err(&app("auth.example.com")), EnrollmentUriError::Issuer(IssuerError::NotAUrl(_))));
    assert!(matches!(err(&app("mailto:a@example.com")), EnrollmentUriError::Issuer(IssuerError::NotAUrl(_))));
}

#[test]
fn refuses_not_a_url() {
    assert!(matches!(err("not a uri"), EnrollmentUriError::Malformed(_)));
}

#[test]
fn refuses_ticket_with_bad_characters() {
    let bad = format!("{}+{}", &TICKET[..20], &TICKET[21..]);
    let text = format!("countersign://enroll?issuer=https%3A%2F%2Fauth.example.com&ticket={}", bad.replace('+', "%2B"));
    assert_eq!(err(&text), EnrollmentUriError::Ticket(TicketError::Charset));
}

#[test]
fn refuses_non_canonical_ticket() {
    // Last char 'c' (28) carries non-zero trailing bits; 'c' ^ 1 = 'd' (29) too.
    let bad = format!("{}d", &TICKET[..42]);
    assert_eq!(check_ticket(&bad), Err(TicketError::NotCanonical));
    assert_eq!(err(&APP.replace(TICKET, &bad)), EnrollmentUriError::Ticket(TicketError::NotCanonical));
}

#[test]
fn generated_tickets_are_accepted() {
    let t = countersign_protocol::secret::generate_url_safe(countersign_protocol::secret::TICKET_BYTES).unwrap();
    assert_eq!(check_ticket(&t), Ok(()));
}

// ---- EnrollmentRequest ----

/// The example enrollment request with `change` made to its JSON, parsed.
fn request_with(change: impl FnOnce(&mut Value)) -> Result<EnrollmentRequest, serde_json::Error> {
    common::changed_example("enrollment-request.json", change)
}

/// [`request_with`] a `device_name` of `name`, validated.
fn validate_name(name: &str) -> Result<(), EnrollmentRequestError> {
    request_with(|v| v["device_name"] = json!(name)).unwrap().validate()
}

#[test]
fn enrollment_request_example_is_valid() {
    let r = request_with(|_| {}).unwrap();
    assert_eq!(r.validate(), Ok(()));
    assert_eq!(r.platform, Platform::Linux);
    assert!(r.capabilities.contains(&Capability::Webauthn));
    assert!(!format!("{r:?}").contains(TICKET));
}

#[test]
fn enrollment_request_refuses_unknown_member() {
    let e = request_with(|v| v["admin"] = json!(true)).unwrap_err();
    assert!(e.to_string().contains("unknown field `admin`"));
}

#[test]
fn enrollment_request_refuses_bad_ticket() {
    let r = request_with(|v| v["ticket"] = json!("short")).unwrap();
    assert_eq!(r.validate(), Err(EnrollmentRequestError::Ticket(TicketError::Length(5))));
}

#[test]
fn enrollment_request_refuses_control_characters_in_name() {
    assert_eq!(
        validate_name("laptop\u{202e}"),
        Ok(()),
        "bidi marks are not control characters; the approver UI warns about them"
    );
    assert_eq!(validate_name("lap\ntop"), Err(EnrollmentRequestError::DeviceName));
}

#[test]
fn enrollment_request_refuses_empty_or_long_name() {
    for name in [String::new(), "x".repeat(65)] {
        assert_eq!(validate_name(&name), Err(EnrollmentRequestError::DeviceName));
    }
}

#[test]
fn enrollment_request_refuses_jwk_with_kid() {
    let r = request_with(|v| v["public_jwk"]["kid"] = json!("mine")).unwrap();
    assert_eq!(r.validate(), Err(EnrollmentRequestError::JwkHasKid));
}

#[test]
fn enrollment_request_refuses_private_key() {
    assert!(request_with(|v| v["public_jwk"]["d"] = json!("IP3Okujz_iekKuZ5XLYfhKm_Jt6MJxjNjx2S5UYYHuU")).is_err());
}

#[test]
fn enrollment_request_refuses_duplicate_capability() {
    let r = request_with(|v| v["capabilities"] = json!(["push", "push"])).unwrap();
    assert_eq!(r.validate(), Err(EnrollmentRequestError::DuplicateCapability("push".into())));
}

#[test]
fn enrollment_request_keeps_unknown_platform_and_capability() {
    let r = request_with(|v| {
        v["platform"] = json!("freebsd");
        v["capabilities"] = json!(["telepathy"]);
    })
    .unwrap();
    assert_eq!(r.platform, Platform::Extension("freebsd".into()));
    assert_eq!(r.capabilities, vec![Capability::Extension("telepathy".into())]);
    assert_eq!(r.validate(), Ok(()));
}

// ---- EnrollmentPreviewRequest / EnrollmentPreviewResponse ----

#[test]
fn preview_request_round_trips_and_keeps_the_ticket_out_of_debug() {
    let r: EnrollmentPreviewRequest = serde_json::from_value(json!({ "ticket": TICKET })).unwrap();
    assert_eq!(r.ticket.secret(), TICKET);
    assert_eq!(r.validate(), Ok(()));
    assert_eq!(serde_json::to_value(&r).unwrap(), json!({ "ticket": TICKET }));
    let dbg = format!("{r:?}");
    assert!(!dbg.contains(TICKET) && dbg.contains("<redacted>"), "{dbg}");
}

#[test]
fn preview_request_refuses_unknown_members_and_a_missing_ticket() {
    let e = serde_json::from_value::<EnrollmentPreviewRequest>(json!({ "ticket": TICKET, "sub": "u_1" })).unwrap_err();
    assert!(e.to_string().contains("unknown field `sub`"), "{e}");
    let e = serde_json::from_value::<EnrollmentPreviewRequest>(json!({})).unwrap_err();
    assert!(e.to_string().contains("missing field `ticket`"), "{e}");
    assert!(serde_json::from_value::<EnrollmentPreviewRequest>(json!({ "ticket": 42 })).is_err());
    assert!(serde_json::from_value::<EnrollmentPreviewRequest>(json!({ "ticket": null })).is_err());
}

#[test]
fn preview_request_validates_the_ticket_form() {
    let r: EnrollmentPreviewRequest = serde_json::from_value(json!({ "ticket": "short" })).unwrap();
    assert_eq!(r.validate(), Err(TicketError::Length(5)));
    let r: EnrollmentPreviewRequest =
        serde_json::from_value(json!({ "ticket": format!("{}d", &TICKET[..42]) })).unwrap();
    assert_eq!(r.validate(), Err(TicketError::NotCanonical));
}

#[test]
fn preview_response_round_trips() {
    let v = json!({ "user": { "sub": "u_7", "name": "Ada", "roles": ["admin", "auditor"] }, "expires_at": 1767225000 });
    let r: EnrollmentPreviewResponse = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(
        r,
        EnrollmentPreviewResponse {
            user: EnrolledUser {
                sub: "u_7".into(),
                name: "Ada".into(),
                roles: vec![Role::Admin, Role::Extension("auditor".into())],
            },
            expires_at: 1767225000,
        }
    );
    assert_eq!(serde_json::to_value(&r).unwrap(), v);
}

#[test]
fn preview_response_ignores_members_of_a_newer_server_but_needs_its_own() {
    // Server-to-device bodies may gain members (protocol §1).
    let v = json!({ "user": { "sub": "u_7", "name": "Ada", "roles": [] }, "expires_at": 5, "tenant": "acme" });
    let r: EnrollmentPreviewResponse = serde_json::from_value(v).unwrap();
    assert_eq!(r.expires_at, 5);
    let e = serde_json::from_value::<EnrollmentPreviewResponse>(
        json!({ "user": { "sub": "u", "name": "A", "roles": [] } }),
    )
    .unwrap_err();
    assert!(e.to_string().contains("missing field `expires_at`"), "{e}");
    assert!(serde_json::from_value::<EnrollmentPreviewResponse>(json!({ "user": null, "expires_at": 5 })).is_err());
    assert!(serde_json::from_value::<EnrollmentPreviewResponse>(
        json!({ "user": { "sub": "u", "name": "A", "roles": [] }, "expires_at": -1 })
    )
    .is_err());
}
