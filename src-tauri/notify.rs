//! Desktop notifications (notify-rust): one per new request, bursts
//! coalesced into one, a click opens the app on the request. A notification
//! shows the agent's name (and whether it is verified), the binding code, the
//! risk and, for a request without warnings, its summary line. A request with
//! warnings says how many instead: they can only be read in the window.
//!
//! A request the approver core finds eligible
//! (`countersign_approver::quick`: approvable, verified agent, low-risk
//! scopes only, low risk everywhere, no warning, nothing required, every
//! field shown whole) gets the core's `QuickText` as its notification,
//! and Approve and Deny (the user's `quick_actions` setting); anything else,
//! and every burst, only offers Open. At the click the request is rendered
//! again and decided only if the core still gives the same text.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use std::collections::BTreeMap;

use countersign_approver::quick::summary_line;
use countersign_approver::store::InboxItem;
use countersign_approver::{DeliveryReport, QuickText, RequestView};
use countersign_details::{Severity, WorstWarning};
use countersign_protocol::device::{AdminNotice, AdminNoticeKind, SchemaHash};
use tauri::{AppHandle, Manager, Runtime};

use crate::events::{ShellEvent, UiEvent};
use crate::settings::Settings;
use crate::shell::{self, Shell};

/// Requests arriving within this window make one notification.
pub const COALESCE: Duration = Duration::from_millis(1500);
/// "Pause notifications" lasts this long.
pub const PAUSE_SECS: u64 = 3600;
/// The key of the notification's click action.
const ACTION_OPEN: &str = "default";
const ACTION_APPROVE: &str = "approve";
const ACTION_DENY: &str = "deny";
/// Longest summary line a notification without quick actions carries.
const SUMMARY_CHARS: usize = 120;

/// One request as a notification shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub account_id: String,
    pub request_id: String,
    pub agent: String,
    pub binding: String,
    pub risk: String,
    /// The agent's client is verified by the server's administrator.
    pub verified: bool,
    /// How many warnings its rendering has, for a burst of several
    /// (`None`: not rendered yet, or it cannot be; counted as warned).
    pub warnings: Option<usize>,
}

impl Pending {
    pub fn of(item: &InboxItem) -> Pending {
        Pending {
            account_id: item.account_id.clone(),
            request_id: item.request.id.as_str().to_owned(),
            agent: item.request.client.client_name.clone(),
            binding: item.request.binding_message.clone(),
            risk: item.request.effective_risk().as_str().to_owned(),
            verified: item.request.client.verified,
            warnings: None,
        }
    }
}

/// What the rendering of a single request adds to its notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The summary line, as the inbox shows it.
    pub summary_line: String,
    /// Warnings anywhere in the rendering (details, fields, request strings).
    pub warnings: usize,
    /// The worst of them (the core's choice), named in the notification.
    pub worst: Option<WorstWarning>,
    /// The display schemas of this rendering: a quick decision is taken only
    /// while they are unchanged.
    pub schemas: BTreeMap<String, SchemaHash>,
    /// The core's text of a request that may be decided from its
    /// notification (and the user allows it): exactly what it shows.
    pub quick: Option<QuickText>,
}

impl Rendered {
    /// `quick`: the core's verdict (`Approver::quick_decision`), taken only
    /// when the user allows quick actions.
    pub fn of(view: &RequestView, quick: Option<QuickText>, quick_actions: bool) -> Rendered {
        Rendered {
            summary_line: summary_line(view),
            warnings: view.display.warning_count,
            worst: view.display.worst_warning.clone(),
            schemas: view.display.display_schemas.clone(),
            quick: quick.filter(|_| quick_actions),
        }
    }

    /// Whether a rendering at the click still is what the notification
    /// showed: the same quick text (so still eligible) and schemas.
    pub fn unchanged(&self, now: &Rendered) -> bool {
        self.quick.is_some() && self.quick == now.quick && self.schemas == now.schemas
    }
}

/// What one notification says, and what its actions do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub summary: String,
    pub body: String,
    /// The request a click opens; `None`: the inbox (or the admin view,
    /// with `opens_admin`).
    pub open: Option<(String, String)>,
    /// A notice to an administrator: a click opens the admin view.
    pub opens_admin: bool,
    /// Offer Approve and Deny (on `open`): the rendering they decide on.
    pub quick: Option<Rendered>,
    /// The agent's name, for the confirmation of a quick decision.
    pub agent: String,
}

/// The notification for a burst of new requests (never empty); `rendered`
/// is the rendering of a burst of one.
pub fn message(burst: &[Pending], rendered: Option<&Rendered>) -> Option<Message> {
    match burst {
        [] => None,
        [one] => {
            if let Some(quick) = rendered.and_then(|r| r.quick.as_ref()) {
                // The core's text, whole: it is what a quick decision commits to.
                return Some(Message {
                    summary: quick.title.clone(),
                    body: markup_escape(&quick.body()),
                    open: Some((one.account_id.clone(), one.request_id.clone())),
                    opens_admin: false,
                    quick: rendered.cloned(),
                    agent: plain(&one.agent, 64),
                });
            }
            let code = format!("Code {} · {} risk", plain(&one.binding, 64), plain(&one.risk, 16));
            let body = match rendered {
                Some(r) if r.warnings == 0 => format!("{}\n{code}", plain(&r.summary_line, SUMMARY_CHARS)),
                Some(r) => {
                    format!("{}: open Countersign to review\n{code}", warnings_label(r.warnings, r.worst.as_ref()))
                }
                None => code,
            };
            let unverified = if one.verified { "" } else { " (not verified)" };
            Some(Message {
                summary: format!("{}{unverified} asks for your approval", plain(&one.agent, 64)),
                body: markup_escape(&body),
                open: Some((one.account_id.clone(), one.request_id.clone())),
                opens_admin: false,
                quick: None,
                agent: plain(&one.agent, 64),
            })
        }
        many => {
            let mut agents: Vec<String> = many.iter().map(|p| plain(&p.agent, 40)).collect();
            agents.dedup();
            let shown = agents.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
            let more = if agents.len() > 3 { format!(" and {} more", agents.len() - 3) } else { String::new() };
            // A request with warnings, or that could not be rendered, is
            // never passed over in silence.
            let warned = many.iter().filter(|p| p.warnings != Some(0)).count();
            let warned = match warned {
                0 => String::new(),
                1 => "\n1 of them has warnings: open Countersign to review".to_owned(),
                n => format!("\n{n} of them have warnings: open Countersign to review"),
            };
            Some(Message {
                summary: format!("{} requests ask for your approval", many.len()),
                body: markup_escape(&format!("From {shown}{more}{warned}")),
                open: None,
                opens_admin: false,
                quick: None,
                agent: String::new(),
            })
        }
    }
}

/// The notification of a notice to an administrator: what happened, and
/// the ids it names made plain (they are the server's records, untrusted
/// text); a click opens the admin view.
pub fn admin_message(notice: &AdminNotice) -> Message {
    let id = |v: Option<&str>| v.map_or_else(|| "-".to_owned(), |v| plain(v, 64));
    let (client, user) = (id(notice.client_id.as_deref()), id(notice.sub.as_deref()));
    let (summary, what) = match &notice.notice {
        AdminNoticeKind::NotMe => (
            "A user reported a request as not theirs".to_owned(),
            format!(
                "User {user} denied request {} of client {client} as \"This wasn't me\".",
                id(notice.request_id.as_ref().map(|r| r.as_str()))
            ),
        ),
        AdminNoticeKind::ClientBlocked if notice.sub.is_none() => {
            ("A client was blocked".to_owned(), format!("Client {client} is blocked for everyone."))
        }
        AdminNoticeKind::ClientBlocked => {
            ("A client was blocked".to_owned(), format!("Client {client} is blocked for user {user}."))
        }
        AdminNoticeKind::UnverifiedBlocked => (
            "Unverified clients were blocked".to_owned(),
            format!("Every unverified client is blocked for user {user} after their \"This wasn't me\" denials."),
        ),
        AdminNoticeKind::Extension(other) => {
            ("Administrator notice".to_owned(), format!("{} (client {client}, user {user}).", plain(other, 64)))
        }
    };
    Message {
        summary: format!("Admin: {summary}"),
        body: markup_escape(&format!("{what}\nBy {}. Open Countersign to review.", plain(&notice.by, 80))),
        open: None,
        opens_admin: true,
        quick: None,
        agent: String::new(),
    }
}

/// The notification of a burst of notices (never empty): one says what it
/// is; several say how many of each kind, and open the admin view.
pub fn admin_burst_message(burst: &[AdminNotice]) -> Option<Message> {
    match burst {
        [] => None,
        [one] => Some(admin_message(one)),
        many => {
            let count = |kind: &AdminNoticeKind| many.iter().filter(|n| &n.notice == kind).count();
            let mut lines = Vec::new();
            for (kind, what) in [
                (AdminNoticeKind::NotMe, "\"This wasn't me\" denials"),
                (AdminNoticeKind::ClientBlocked, "clients blocked"),
                (AdminNoticeKind::UnverifiedBlocked, "users' unverified clients blocked"),
            ] {
                let n = count(&kind);
                if n > 0 {
                    lines.push(format!("{n} {what}"));
                }
            }
            let other = many.iter().filter(|n| matches!(n.notice, AdminNoticeKind::Extension(_))).count();
            if other > 0 {
                lines.push(format!("{other} other notices"));
            }
            Some(Message {
                summary: format!("Admin: {} notices", many.len()),
                body: markup_escape(&format!("{}\nOpen Countersign to review.", lines.join(", "))),
                open: None,
                opens_admin: true,
                quick: None,
                agent: String::new(),
            })
        }
    }
}

/// A notice to an administrator: shown after the coalescing window, a
/// burst of them as one notification (a first connection after a while
/// may bring many), unless notifications are off or paused.
pub fn on_admin_notice<R: Runtime>(app: &AppHandle<R>, notice: &AdminNotice) {
    let Some(notifier) = app.try_state::<Notifier>() else { return };
    let enabled = app.try_state::<Settings>().is_none_or(|s| s.preferences().notifications);
    if !enabled || !notifier.push_admin(notice.clone(), shell::now()) {
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(COALESCE).await;
        let burst = app.state::<Notifier>().take_admin();
        if let Some(message) = admin_burst_message(&burst) {
            tauri::async_runtime::spawn_blocking(move || show(&app, &message));
        }
    });
}

/// `3 warnings (danger: lookalike letters)`: how many, and the worst kind.
fn warnings_label(count: usize, worst: Option<&WorstWarning>) -> String {
    let count = match count {
        1 => "1 warning".to_owned(),
        n => format!("{n} warnings"),
    };
    match worst {
        Some(w) => {
            let severity = match w.severity {
                Severity::Danger => "danger",
                Severity::Caution => "caution",
                Severity::Info => "note",
            };
            format!("{count} ({severity}: {})", w.text)
        }
        None => count,
    }
}

/// `text` on one line, at most `max` characters, with every character
/// `countersign_text` flags in one line of prose (control, bidi, invisible,
/// unusual characters, lookalike letters) replaced by U+FFFD: a notification
/// cannot show the warnings the app shows, so it must not carry what they
/// warn about.
pub fn plain(text: &str, max: usize) -> String {
    let mut out: String = countersign_text::replace_flagged(text, countersign_text::Context::Line, '\u{FFFD}')
        .chars()
        .take(max)
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

/// Notification bodies may be read as markup (freedesktop spec): escape it.
pub fn markup_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Collects new requests and shows them, coalesced.
#[derive(Default)]
pub struct Notifier {
    paused_until: AtomicU64,
    burst: Mutex<Vec<Pending>>,
    admin_burst: Mutex<Vec<AdminNotice>>,
}

impl Notifier {
    pub fn paused(&self, now: u64) -> bool {
        self.paused_until.load(Ordering::SeqCst) > now
    }

    /// Until when notifications are paused, if they are.
    pub fn paused_until(&self, now: u64) -> Option<u64> {
        self.paused(now).then(|| self.paused_until.load(Ordering::SeqCst))
    }

    /// Pauses for an hour (`true`) or resumes (`false`).
    pub fn set_paused(&self, paused: bool, now: u64) {
        self.paused_until.store(if paused { now + PAUSE_SECS } else { 0 }, Ordering::SeqCst);
    }

    /// Pauses for an hour, or resumes; returns whether now paused.
    pub fn toggle_pause(&self, now: u64) -> bool {
        if self.paused(now) {
            self.paused_until.store(0, Ordering::SeqCst);
            false
        } else {
            self.paused_until.store(now + PAUSE_SECS, Ordering::SeqCst);
            true
        }
    }

    /// Adds a request; true when it starts a new burst (the caller then
    /// flushes after [`COALESCE`]).
    pub fn push(&self, pending: Pending, now: u64) -> bool {
        if self.paused(now) {
            return false;
        }
        match self.burst.lock() {
            Ok(mut burst) => {
                burst.push(pending);
                burst.len() == 1
            }
            Err(_) => false,
        }
    }

    pub fn take(&self) -> Vec<Pending> {
        self.burst.lock().map(|mut b| std::mem::take(&mut *b)).unwrap_or_default()
    }

    /// Adds an administrator's notice; true when it starts a new burst.
    pub fn push_admin(&self, notice: AdminNotice, now: u64) -> bool {
        if self.paused(now) {
            return false;
        }
        match self.admin_burst.lock() {
            Ok(mut burst) => {
                burst.push(notice);
                burst.len() == 1
            }
            Err(_) => false,
        }
    }

    pub fn take_admin(&self) -> Vec<AdminNotice> {
        self.admin_burst.lock().map(|mut b| std::mem::take(&mut *b)).unwrap_or_default()
    }
}

/// A new request: notify after the coalescing window (unless the user
/// turned notifications off).
pub fn on_new_request<R: Runtime>(app: &AppHandle<R>, item: &InboxItem) {
    let Some(notifier) = app.try_state::<Notifier>() else { return };
    let enabled = app.try_state::<Settings>().is_none_or(|s| s.preferences().notifications);
    if enabled && notifier.push(Pending::of(item), shell::now()) {
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(COALESCE).await;
            let mut burst = app.state::<Notifier>().take();
            let rendered = match burst.as_slice() {
                [one] => render(&app, one).await,
                _ => {
                    for p in &mut burst {
                        p.warnings = warnings_of(&app, p).await;
                    }
                    None
                }
            };
            if let Some(message) = message(&burst, rendered.as_ref()) {
                // Showing and waiting for the click block on D-Bus.
                tauri::async_runtime::spawn_blocking(move || show(&app, &message));
            }
        });
    }
}

/// The summary line and quick-action eligibility of one request (`None`
/// when it cannot be rendered any more: the notification then says less).
/// The notification shows this rendering, so it is recorded as shown.
async fn render<R: Runtime>(app: &AppHandle<R>, one: &Pending) -> Option<Rendered> {
    let shell = app.state::<Shell>();
    let approver = shell.approver().ok()?;
    let view = approver.view(&one.request_id, Some(&one.account_id)).await.ok()?;
    Some(Rendered::of(&view, approver.quick_decision(&view).ok(), quick_actions_on(app)))
}

/// How many warnings a request of a burst has (rendered without recording
/// it as shown: a burst's notification shows none of its text).
async fn warnings_of<R: Runtime>(app: &AppHandle<R>, p: &Pending) -> Option<usize> {
    let shell = app.state::<Shell>();
    let approver = shell.approver().ok()?;
    approver.peek(&p.request_id, Some(&p.account_id)).await.ok().map(|v| v.display.warning_count)
}

/// The request rendered again at a click, without recording anything.
async fn render_again<R: Runtime>(app: &AppHandle<R>, account_id: &str, request_id: &str) -> Option<Rendered> {
    let shell = app.state::<Shell>();
    let approver = shell.approver().ok()?;
    let view = approver.peek(request_id, Some(account_id)).await.ok()?;
    Some(Rendered::of(&view, approver.quick_decision(&view).ok(), quick_actions_on(app)))
}

fn quick_actions_on<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.try_state::<Settings>().is_some_and(|s| s.preferences().quick_actions)
}

fn show<R: Runtime>(app: &AppHandle<R>, message: &Message) {
    let mut notification = notify_rust::Notification::new();
    notification
        .appname("Countersign")
        .summary(&message.summary)
        .body(&message.body)
        .action(ACTION_OPEN, "Open")
        .timeout(notify_rust::Timeout::Milliseconds(15_000));
    if message.quick.is_some() {
        notification.action(ACTION_APPROVE, "Approve").action(ACTION_DENY, "Deny");
    }
    let handle = match notification.show() {
        Ok(handle) => handle,
        Err(error) => {
            eprintln!("countersign: cannot show a notification: {error}");
            return;
        }
    };
    #[cfg(all(unix, not(target_os = "macos")))]
    handle.wait_for_action(|action| match (action, &message.open, &message.quick) {
        (ACTION_OPEN, _, _) if message.opens_admin => open_admin(app),
        (ACTION_OPEN, open, _) => self::open(app, open.clone()),
        (ACTION_APPROVE, Some(request), Some(shown)) => quick_decision(app, message, shown, request, true),
        (ACTION_DENY, Some(request), Some(shown)) => quick_decision(app, message, shown, request, false),
        _ => {}
    });
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    {
        let _ = (handle, app);
    }
}

/// Approve or Deny pressed in a notification: sign and send like the app
/// does (a denial says `other`: the notification asks for no reason), then
/// tell the user how it went.
#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
fn quick_decision<R: Runtime>(
    app: &AppHandle<R>,
    message: &Message,
    shown: &Rendered,
    request: &(String, String),
    approve: bool,
) {
    let app = app.clone();
    let agent = message.agent.clone();
    let shown = shown.clone();
    let (account_id, request_id) = request.clone();
    tauri::async_runtime::spawn(async move {
        // Rendered again at the click: if the setting was turned off, or the
        // request changed since the notification was shown (a display schema
        // update can change the text or add warnings), the window opens on
        // it instead.
        let still = render_again(&app, &account_id, &request_id).await;
        if !still.is_some_and(|now| shown.unchanged(&now)) {
            open(&app, Some((account_id, request_id)));
            return;
        }
        let shell = app.state::<Shell>();
        let outcome = if approve {
            shell.approve(&account_id, &request_id, None).await
        } else {
            shell.deny(&account_id, &request_id, "other").await
        };
        let verb = if approve { "Approved" } else { "Denied" };
        let (summary, body, open) = match outcome {
            Ok(outcome) => (format!("{verb}: {agent}"), delivery_text(&outcome.delivery).to_owned(), None),
            Err(error) => (
                format!("Could not {}: {agent}", if approve { "approve" } else { "deny" }),
                markup_escape(&plain(&error.message, 200)),
                Some((account_id, request_id)),
            ),
        };
        let followup = Message { summary, body, open, opens_admin: false, quick: None, agent };
        tauri::async_runtime::spawn_blocking(move || show(&app, &followup));
    });
}

/// What happened to a decision, in words.
pub fn delivery_text(delivery: &DeliveryReport) -> &'static str {
    match delivery {
        DeliveryReport::Delivered { .. } => "Sent to the server.",
        DeliveryReport::Retrying { .. } => "It will be sent when the server can be reached.",
        DeliveryReport::Expired => "The request expired before the server got it.",
        DeliveryReport::Conflict { .. } => "Another decision was recorded first.",
        DeliveryReport::Withdrawn => "The agent had withdrawn the request.",
        DeliveryReport::NeedsReview { .. } => "How it is displayed changed: open Countersign to review it.",
        DeliveryReport::Rejected { .. } => "The server refused it: open Countersign for details.",
        DeliveryReport::NotQueued => "Nothing was sent.",
    }
}

/// Shows the window on the admin view.
#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
pub fn open_admin<R: Runtime>(app: &AppHandle<R>) {
    app.state::<Shell>().publish(UiEvent::Shell(ShellEvent::OpenAdmin));
    crate::tray::show_main_window(app);
}

/// Shows the window, on a request or on the inbox. The page is told first
/// (a hidden page still runs its script), so that the view is usually in
/// place when the window is mapped, instead of the inbox being drawn first
/// and then replaced (docs/performance.md, "Desktop app").
pub fn open<R: Runtime>(app: &AppHandle<R>, request: Option<(String, String)>) {
    let event = match request {
        Some((account_id, request_id)) => ShellEvent::OpenRequest { account_id, request_id },
        None => ShellEvent::OpenInbox,
    };
    app.state::<Shell>().publish(UiEvent::Shell(event));
    crate::tray::show_main_window(app);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(agent: &str, id: &str) -> Pending {
        Pending {
            account_id: "a".into(),
            request_id: id.into(),
            agent: agent.into(),
            binding: "SHOP-1".into(),
            risk: "high".into(),
            verified: true,
            warnings: Some(0),
        }
    }

    fn quick_text(summary: &str) -> QuickText {
        QuickText {
            title: "Shop asks for your approval".into(),
            lines: vec![summary.into(), "Title: <Dentist>".into(), "Code SHOP-1 · low risk".into()],
        }
    }

    fn rendered(summary: &str, warnings: usize, quick: bool) -> Rendered {
        let quick = quick.then(|| quick_text(summary));
        Rendered { summary_line: summary.into(), warnings, worst: None, schemas: BTreeMap::new(), quick }
    }

    #[test]
    fn an_admin_notice_says_what_happened_with_its_ids_made_plain_and_opens_the_admin_view() {
        let mut notice = AdminNotice {
            notice: AdminNoticeKind::NotMe,
            client_id: Some("agent<b>\u{202E}x".into()),
            sub: Some("u_1\u{200B}001".into()),
            request_id: Some(countersign_protocol::device::RequestId::new("req_7Hq2xK9mN4pL").unwrap()),
            by: "device:dev_1".into(),
            at: 1,
        };
        let m = admin_message(&notice);
        assert_eq!(m.summary, "Admin: A user reported a request as not theirs");
        assert_eq!(
            m.body,
            "User u_1\u{FFFD}001 denied request req_7Hq2xK9mN4pL of client agent&lt;b&gt;\u{FFFD}x as \"This wasn't me\".\n\
             By device:dev_1. Open Countersign to review."
        );
        assert!(m.opens_admin && m.open.is_none() && m.quick.is_none());
        notice.notice = AdminNoticeKind::ClientBlocked;
        assert!(admin_message(&notice).body.starts_with("Client agent&lt;b&gt;\u{FFFD}x is blocked for user u_1"));
        notice.sub = None;
        assert!(admin_message(&notice).body.starts_with("Client agent&lt;b&gt;\u{FFFD}x is blocked for everyone."));
        notice.notice = AdminNoticeKind::UnverifiedBlocked;
        notice.sub = Some("u_2".into());
        assert!(admin_message(&notice).body.starts_with("Every unverified client is blocked for user u_2"));
        notice.notice = AdminNoticeKind::Extension("key_rotated".into());
        assert_eq!(admin_message(&notice).summary, "Admin: Administrator notice");
    }

    #[test]
    fn a_burst_of_admin_notices_is_one_notification_counting_each_kind() {
        let notice = |kind: AdminNoticeKind| AdminNotice {
            notice: kind,
            client_id: Some("c".into()),
            sub: Some("u".into()),
            request_id: None,
            by: "server".into(),
            at: 1,
        };
        assert!(admin_burst_message(&[]).is_none());
        let one = admin_burst_message(&[notice(AdminNoticeKind::NotMe)]).unwrap();
        assert_eq!(one.summary, "Admin: A user reported a request as not theirs");
        let burst = [
            notice(AdminNoticeKind::NotMe),
            notice(AdminNoticeKind::NotMe),
            notice(AdminNoticeKind::ClientBlocked),
            notice(AdminNoticeKind::Extension("later".into())),
        ];
        let m = admin_burst_message(&burst).unwrap();
        assert_eq!(m.summary, "Admin: 4 notices");
        assert_eq!(
            m.body,
            "2 \"This wasn't me\" denials, 1 clients blocked, 1 other notices\nOpen Countersign to review."
        );
        assert!(m.opens_admin);
        // Paused: nothing collected.
        let notifier = Notifier::default();
        notifier.set_paused(true, 100);
        assert!(!notifier.push_admin(notice(AdminNoticeKind::NotMe), 100));
        assert!(notifier.take_admin().is_empty());
        notifier.set_paused(false, 100);
        assert!(notifier.push_admin(notice(AdminNoticeKind::NotMe), 100));
        assert!(!notifier.push_admin(notice(AdminNoticeKind::NotMe), 100), "the same burst");
        assert_eq!(notifier.take_admin().len(), 2);
    }

    #[test]
    fn one_request_one_notification_that_opens_it() {
        let m = message(&[pending("Shop <b>Agent</b>", "r1")], None).unwrap();
        assert_eq!(m.summary, "Shop <b>Agent</b> asks for your approval");
        assert_eq!(m.body, "Code SHOP-1 · high risk");
        assert_eq!(m.open, Some(("a".into(), "r1".into())));
        assert!(m.quick.is_none());
        // Without quick actions: the summary line made plain, the code and risk.
        let open_only = rendered("Create <Dentist>\u{202E}", 0, false);
        let m = message(&[pending("Shop", "r1")], Some(&open_only)).unwrap();
        assert_eq!(m.body, "Create &lt;Dentist&gt;\u{FFFD}\nCode SHOP-1 · high risk");
        assert!(m.quick.is_none());
        // With them: exactly the core's text (escaped for markup only).
        let quick = rendered("Create Dentist", 0, true);
        let m = message(&[pending("Shop", "r1")], Some(&quick)).unwrap();
        assert_eq!(m.summary, "Shop asks for your approval");
        assert_eq!(m.body, "Create Dentist\nTitle: &lt;Dentist&gt;\nCode SHOP-1 · low risk");
        assert_eq!(m.quick, Some(quick));
        // With warnings the summary is not shown, only how many there are.
        let warned = rendered("Pay 5,000 EUR to Mallory", 2, false);
        let m = message(&[pending("Shop", "r1")], Some(&warned)).unwrap();
        assert_eq!(m.body, "2 warnings: open Countersign to review\nCode SHOP-1 · high risk");
        assert!(m.quick.is_none());
        // The worst kind is named (issue 19, item 2).
        let worst = WorstWarning {
            code: countersign_details::WarningCode::MixedScript,
            severity: Severity::Danger,
            text: "lookalike letters".into(),
        };
        let warned = Rendered { worst: Some(worst), ..rendered("Pay 5,000 EUR to p\u{0430}ypal", 3, false) };
        let m = message(&[pending("Shop", "r1")], Some(&warned)).unwrap();
        assert_eq!(
            m.body,
            "3 warnings (danger: lookalike letters): open Countersign to review\nCode SHOP-1 · high risk"
        );
        let m = message(&[Pending { verified: false, ..pending("Shop", "r1") }], None).unwrap();
        assert_eq!(m.summary, "Shop (not verified) asks for your approval");
    }

    #[test]
    fn a_burst_is_one_notification_that_opens_the_inbox() {
        let burst: Vec<_> = (0..5).map(|i| pending(&format!("Agent {i}"), &format!("r{i}"))).collect();
        let quick = rendered("x", 0, true);
        let m = message(&burst, Some(&quick)).unwrap();
        assert_eq!(m.summary, "5 requests ask for your approval");
        assert_eq!(m.body, "From Agent 0, Agent 1, Agent 2 and 2 more");
        assert_eq!(m.open, None);
        assert!(m.quick.is_none(), "a burst never offers Approve");
        assert_eq!(message(&[], None), None);
    }

    #[test]
    fn a_burst_says_how_many_of_its_requests_have_warnings_or_could_not_be_rendered() {
        let mut burst: Vec<_> = (0..4).map(|i| pending(&format!("Agent {i}"), &format!("r{i}"))).collect();
        burst[1].warnings = Some(2);
        let m = message(&burst, None).unwrap();
        assert_eq!(
            m.body,
            "From Agent 0, Agent 1, Agent 2 and 1 more\n1 of them has warnings: open Countersign to review"
        );
        burst[3].warnings = None;
        let m = message(&burst, None).unwrap();
        assert_eq!(
            m.body,
            "From Agent 0, Agent 1, Agent 2 and 1 more\n2 of them have warnings: open Countersign to review"
        );
    }

    #[test]
    fn a_quick_decision_needs_the_notification_to_still_be_true() {
        let shown = rendered("Create Dentist", 0, true);
        assert!(shown.unchanged(&rendered("Create Dentist", 0, true)));
        assert!(!shown.unchanged(&rendered("Create Dentist tomorrow", 0, true)), "summary changed");
        assert!(!shown.unchanged(&rendered("Create Dentist", 0, false)), "no longer eligible (or setting off)");
        let mut field_changed = rendered("Create Dentist", 0, true);
        field_changed.quick.as_mut().unwrap().lines[1] = "Title: Dentist (moved)".into();
        assert!(!shown.unchanged(&field_changed), "a field line changed");
        assert!(
            !rendered("Create Dentist", 0, false).unchanged(&rendered("Create Dentist", 0, false)),
            "never eligible"
        );
        let mut other = rendered("Create Dentist", 0, true);
        other.schemas.insert("urn:x".into(), SchemaHash::of_schema(&serde_json::json!({})).unwrap());
        assert!(!shown.unchanged(&other), "a display schema changed");
    }

    #[test]
    fn text_is_plain_one_line_and_escaped_for_markup() {
        assert_eq!(plain("Pay\u{202E}lapyap\nnow\u{200B}!", 100), "Pay\u{FFFD}lapyap\u{FFFD}now\u{FFFD}!");
        assert_eq!(plain("abcdef", 3), "abc…");
        let m = message(&[Pending { binding: "<a href=x>1</a>&".into(), ..pending("x", "r") }], None).unwrap();
        assert_eq!(m.body, "Code &lt;a href=x&gt;1&lt;/a&gt;&amp; · high risk");
    }

    #[test]
    fn bursts_coalesce_and_pausing_silences_for_an_hour() {
        let n = Notifier::default();
        assert!(n.push(pending("a", "1"), 100), "the first starts a burst");
        assert!(!n.push(pending("b", "2"), 100), "the second joins it");
        assert_eq!(n.take().len(), 2);
        assert!(n.push(pending("c", "3"), 100), "after the flush a new burst starts");
        n.take();
        assert!(n.toggle_pause(100));
        assert!(!n.push(pending("d", "4"), 100 + PAUSE_SECS - 1));
        assert!(n.take().is_empty());
        assert!(n.push(pending("e", "5"), 100 + PAUSE_SECS), "the pause ends after an hour");
        n.take();
        let later = 100 + 2 * PAUSE_SECS;
        assert!(n.toggle_pause(later));
        assert!(n.paused(later + 1));
        assert!(!n.toggle_pause(later + 1), "toggling again resumes");
        assert!(!n.paused(later + 1));
        n.set_paused(true, 10);
        assert_eq!(n.paused_until(10), Some(10 + PAUSE_SECS));
        n.set_paused(false, 10);
        assert_eq!(n.paused_until(10), None);
    }
}
