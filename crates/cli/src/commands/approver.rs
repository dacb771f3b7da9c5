//! The approver commands: enroll, accounts, list, show, approve (with the
//! security key when the request requires one), deny, watch, history,
//! receipts, the unverified-client block.

use super::*;
use crate::render;
use crate::safe::text;
use countersign_approver::confirm::{confirmation_reason, ConfirmationReason};
use countersign_approver::display::unapprovable_reason;
use countersign_approver::store::{InboxItem, LocalStatus};
use countersign_approver::{Approver, ApproverEvent, DeliveryReport, Error, RequestView, SharedAuthenticator};
use countersign_protocol::device::{Decision, DenyReason, EnrollmentUri, Requirement};
use serde::Serialize;
use serde_json::json;
use std::io::IsTerminal as _;
use std::time::Duration;
use zeroize::Zeroizing;

pub(super) async fn approver_command(out: &Out, approver: &Approver, command: Command) -> Outcome {
    let now = approver.config().clock.now();
    match command {
        Command::Enroll { uri, qr_image, yes, .. } => {
            let link = match (uri, qr_image) {
                (Some(uri), None) => Zeroizing::new(uri),
                (None, Some(path)) => link_in_image(&path)?,
                // clap's "invitation" group makes it exactly one.
                _ => return Err(Failure::new("give the invitation link or --qr-image FILE, not both")),
            };
            let invitation = EnrollmentUri::parse(link.trim()).map_err(Error::from)?;
            drop(link);
            // Who the ticket is for, before anything is spent or stored.
            let preview = approver.enroll_preview_with(&invitation).await?;
            eprintln!("{}", render::enroll_preview(&preview, now));
            if !yes {
                if !std::io::stdin().is_terminal() {
                    return Err(Failure::new(format!(
                        "pass --yes to confirm enrolling with {} as {}",
                        preview.issuer, preview.user.name
                    )));
                }
                let q = "Enroll this device for this user? The server will be able to send you requests to approve.";
                if !confirm(q) {
                    return Err(Failure::new("not enrolled"));
                }
            }
            let account = approver.enroll_with(&invitation).await?;
            out.print(&account, || {
                format!(
                    "Enrolled as {} <{}> at {}\naccount {}  device {}  key in {}",
                    text(&account.user.name),
                    text(&account.user.sub),
                    text(account.issuer.as_str()),
                    account.id,
                    text(account.device_id.as_str()),
                    account.key_store
                )
            });
        }
        Command::Accounts => {
            let accounts = approver.accounts().await?;
            out.print_list(
                &accounts,
                "No accounts. Enroll with `countersign-cli enroll <invitation>`.",
                render::account_line,
            );
        }
        Command::List { offline, all } => {
            if !offline {
                sync_and_deliver(approver).await;
            }
            let items = if all { approver.inbox().await? } else { approver.pending().await? };
            let listed = listed(approver, items).await;
            out.print(&listed, || {
                if listed.is_empty() {
                    if all { "No requests." } else { "No pending requests." }.into()
                } else {
                    let mut lines = listed
                        .iter()
                        .map(|l| {
                            let line = render::request_line(&l.item, l.display.as_ref().map_err(String::as_str), now);
                            if all {
                                format!("{line}  [{}]", l.item.status)
                            } else {
                                line
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("\n");
                    lines.push('\n');
                    render::push_note(&mut lines);
                    lines
                }
            });
        }
        Command::Show { id, account } => {
            let view = approver.view(&id, account.as_deref()).await?;
            out.print(&view, || render::request_full(&view, now));
        }
        Command::Approve { id, account, yes, wait, key_wait } => {
            let view = approver.view(&id, account.as_deref()).await?;
            let item = view.item.clone();
            if item.status != LocalStatus::Pending {
                return Err(Error::NotPending { request_id: id, status: item.status.to_string() }.into());
            }
            if !out.json {
                eprintln!("{}", render::request_full(&view, now).trim_end());
            }
            if let Some(reason) = unapprovable_reason(&view.display) {
                return Err(Error::NotApprovable { request_id: id, reason: reason.to_owned() }.into());
            }
            if !yes {
                if !std::io::stdin().is_terminal() {
                    return Err(Failure::new("not confirmed: pass --yes (after `show`) to approve without a prompt"));
                }
                if !confirm("Approve exactly this request?") {
                    return Err(Failure::new("not approved"));
                }
            }
            // Refused before anything is typed when no key can be reached.
            let key = if item.request.requires.contains(&Requirement::Webauthn) {
                Some(required_security_key(Duration::from_secs(key_wait))?)
            } else {
                None
            };
            let typed = typed_confirmation(&view)?;
            if key.is_some() {
                eprintln!("This request requires your security key.");
            }
            return decide(out, approver, &item, Decision::Approve, None, typed.as_deref(), key.as_ref(), wait).await;
        }
        Command::Deny { id, reason, account, wait } => {
            let item = approver.find_request(&id, account.as_deref()).await?;
            let reason = reason.map(DenyReason::from);
            return decide(out, approver, &item, Decision::Deny, reason, None, None, wait).await;
        }
        Command::UnverifiedBlock { account, lift } => return unverified_block(out, approver, account, lift).await,
        Command::Watch { prompt, duration, .. } => return watch(out, approver, prompt, duration).await,
        Command::VerifyUser => {
            let status = approver.user_verification_status().await;
            if let countersign_approver::verify::Availability::Unavailable(why) = &status.availability {
                return Err(Failure::new(format!(
                    "user verification ({}) is not available here: {why}",
                    status.method
                )));
            }
            let amr = approver.check_user_verification().await?;
            let amr: Vec<&str> = amr.iter().map(|m| m.as_str()).collect();
            out.print(&json!({ "verified": true, "method": status.method, "amr": amr }), || {
                format!(
                    "Verified by {} (amr: {}). Approvals that require it will ask the same way.",
                    status.method,
                    amr.join(" ")
                )
            });
        }
        Command::Sync => {
            let synced = approver.sync_all().await;
            let delivered = approver.deliver_due().await?;
            let accounts: Vec<_> = synced
                .iter()
                .map(|(id, r)| match r {
                    Ok(rep) => json!({ "account_id": id, "report": rep }),
                    Err(e) => json!({ "account_id": id, "error": e.to_string() }),
                })
                .collect();
            let deliveries: Vec<_> = delivered
                .iter()
                .map(|(e, r)| json!({ "account_id": e.account_id, "request_id": e.request_id, "delivery": r }))
                .collect();
            out.print(&json!({ "accounts": accounts, "deliveries": deliveries }), || {
                let mut lines = Vec::new();
                for (id, r) in &synced {
                    lines.push(match r {
                        Ok(rep) => format!("{id}: {} new, {} withdrawn", rep.new, rep.withdrawn),
                        Err(e) => format!("{id}: {}", text(&e.to_string())),
                    });
                }
                for (e, r) in &delivered {
                    lines.push(format!("{}: {}", text(&e.request_id), render::delivery(r)));
                }
                if lines.is_empty() {
                    "Nothing to do.".into()
                } else {
                    lines.join("\n")
                }
            });
        }
        Command::History => {
            let history = approver.history().await?;
            out.print_list(&history, "No decisions yet.", render::history_line);
        }
        Command::Verify { id, account } => {
            let item = approver.find_request(&id, account.as_deref()).await?;
            let check = approver.verify_receipt(&item.account_id, &id).await?;
            out.print(&check, || render::receipt(&check));
            if !check.is_valid() {
                return Ok(EXIT_INVALID_RECEIPT);
            }
        }
        Command::RemoveAccount { account_id, yes } => {
            let account = approver.store().account(&account_id).await?;
            if !yes {
                if !std::io::stdin().is_terminal() {
                    return Err(Failure::new("pass --yes to remove the account"));
                }
                let q = format!(
                    "Remove account {} ({} at {}) and its key? Its history goes too.",
                    account.id,
                    text(&account.user.name),
                    text(account.issuer.as_str())
                );
                if !confirm(&q) {
                    return Err(Failure::new("not removed"));
                }
            }
            approver.remove_account(&account_id).await?;
            out.print(&json!({ "removed": account_id }), || {
                format!("Removed account {account_id}. Revoke the device on the server as well.")
            });
        }
        Command::Keys(cmd) => return keys_command(out, approver, cmd).await,
        Command::Admin { account, cmd } => return admin_command(out, approver, account, cmd).await,
        Command::Agent(_) => {}
    }
    Ok(0)
}

/// A request as `list` shows it: the stored request and, in JSON, how many
/// warnings its rendering has and the worst kind.
#[derive(Debug, Serialize)]
pub(super) struct Listed {
    #[serde(flatten)]
    item: InboxItem,
    warning_count: Option<usize>,
    worst_warning: Option<countersign_details::WorstWarning>,
    /// Why the request could not be rendered (its warnings are unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    render_error: Option<String>,
    #[serde(skip)]
    display: Result<countersign_details::DisplayModel, String>,
}

/// Each request with its rendering (not recorded as shown: a list is not
/// the full view an approval needs).
pub(super) async fn listed(approver: &Approver, items: Vec<InboxItem>) -> Vec<Listed> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let display = rendering(approver, &item).await;
        out.push(Listed {
            warning_count: display.as_ref().ok().map(|d| d.warning_count),
            worst_warning: display.as_ref().ok().and_then(|d| d.worst_warning.clone()),
            render_error: display.as_ref().err().cloned(),
            display,
            item,
        });
    }
    out
}

/// A request's rendering for a short view (not recorded as shown), or why
/// it cannot be rendered.
pub(super) async fn rendering(
    approver: &Approver,
    item: &InboxItem,
) -> Result<countersign_details::DisplayModel, String> {
    approver.peek(item.request.id.as_str(), Some(&item.account_id)).await.map(|v| v.display).map_err(|e| e.to_string())
}

/// Pulls requests from every account and delivers queued decisions; errors
/// are warnings (the local inbox is still shown).
pub(super) async fn sync_and_deliver(approver: &Approver) {
    for (id, r) in approver.sync_all().await {
        if let Err(e) = r {
            eprintln!("warning: account {id}: {}", text(&e.to_string()));
        }
    }
    if let Err(e) = approver.deliver_due().await {
        eprintln!("warning: delivery: {}", text(&e.to_string()));
    }
}

/// What the user typed to confirm an approval, asked whenever the core's
/// view says so ([`RequestView::confirmation_required`]); the core checks
/// it. Needs a terminal: typing the code is the deliberate act.
pub(super) fn typed_confirmation(view: &RequestView) -> Result<Option<String>, Failure> {
    let Some(reason) = confirmation_reason(&view.item.request, &view.display).filter(|_| view.confirmation_required)
    else {
        return Ok(None);
    };
    let why = match reason {
        ConfirmationReason::UserVerification => "requires user verification".to_owned(),
        ConfirmationReason::Risk { risk } => format!("is {} risk", risk.as_str()),
    };
    if !std::io::stdin().is_terminal() {
        return Err(Failure::new(format!(
            "this request {why}: approve it in a terminal (you will type its binding message)"
        )));
    }
    Ok(Some(read_line(&format!("This request {why}. Type its binding message to approve it: ")).unwrap_or_default()))
}

/// Whether unverified agents are blocked for the user of each account (or
/// of `account`), and with `lift` lifts the block.
pub(super) async fn unverified_block(out: &Out, approver: &Approver, account: Option<String>, lift: bool) -> Outcome {
    let accounts = match account {
        Some(id) => vec![approver.store().account(&id).await?],
        None => approver.accounts().await?,
    };
    if lift && accounts.len() != 1 {
        return Err(Failure::new(if accounts.is_empty() {
            "no account: nothing to lift"
        } else {
            "several accounts: choose the account to lift the block for with --account"
        }));
    }
    let mut states = Vec::new();
    for account in &accounts {
        let block = if lift {
            approver.lift_unverified_block(&account.id).await?
        } else {
            approver.unverified_block(&account.id).await?
        };
        states.push((account, block));
    }
    let now = approver.config().clock.now();
    let json: Vec<_> =
        states.iter().map(|(a, b)| json!({ "account_id": a.id, "blocked": b.blocked, "since": b.since })).collect();
    out.print(&json, || {
        if states.is_empty() {
            return "No accounts.".into();
        }
        states
            .iter()
            .map(|(a, b)| {
                let who = format!("{} ({} at {})", a.id, text(&a.user.name), text(a.issuer.as_str()));
                match (b.blocked, b.since) {
                    (true, Some(since)) => format!(
                        "{who}: unverified agents are blocked since {} ({}). \
                         Lift with `countersign-cli unverified-block --account {} --lift`.",
                        render::utc_time(since),
                        render::ago(since, now),
                        a.id
                    ),
                    (true, None) => format!("{who}: unverified agents are blocked."),
                    (false, _) if lift => format!("{who}: unverified agents may ask again."),
                    (false, _) => format!("{who}: unverified agents are not blocked."),
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(0)
}

/// Decides; `key` is the security key an approval that requires one uses.
#[allow(clippy::too_many_arguments)]
pub(super) async fn decide(
    out: &Out,
    approver: &Approver,
    item: &InboxItem,
    decision: Decision,
    reason: Option<DenyReason>,
    typed: Option<&str>,
    key: Option<&SharedAuthenticator>,
    wait: bool,
) -> Outcome {
    let id = item.request.id.as_str();
    let mut outcome = approver.decide_with(&item.account_id, id, decision, reason, typed, key).await?;
    while wait && matches!(outcome.delivery, DeliveryReport::Retrying { .. }) {
        if !out.json {
            eprintln!("{}", render::delivery(&outcome.delivery));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        outcome.delivery = approver.deliver(&item.account_id, id).await?;
    }
    outcome.history = approver.store().history_entry(outcome.history.id).await?;
    out.print(&outcome, || format!("{} {}: {}", decision, text(id), render::delivery(&outcome.delivery)));
    Ok(match outcome.delivery {
        DeliveryReport::Delivered { .. } | DeliveryReport::Retrying { .. } => 0,
        _ => EXIT_NOT_ACCEPTED,
    })
}

pub(super) async fn prompt_for(out: &Out, approver: &Approver, item: &InboxItem) -> Result<(), Failure> {
    let now = approver.config().clock.now();
    let view = approver.view(item.request.id.as_str(), Some(&item.account_id)).await?;
    eprintln!("{}", render::request_full(&view, now).trim_end());
    let answer = tokio::task::spawn_blocking(|| read_line("[a]pprove, [d]eny or [s]kip? "))
        .await
        .map_err(|e| Failure::new(e.to_string()))?;
    let (decision, reason) = match answer.as_deref() {
        Some("a" | "approve") => (Decision::Approve, None),
        Some("d" | "deny") => {
            let r = tokio::task::spawn_blocking(|| read_line("Why? [n]ot me, [w]rong details, [o]ther: "))
                .await
                .map_err(|e| Failure::new(e.to_string()))?;
            let reason = match r.as_deref() {
                Some("n") => DenyReason::NotMe,
                Some("w") => DenyReason::WrongDetails,
                _ => DenyReason::Other,
            };
            (Decision::Deny, Some(reason))
        }
        _ => return Ok(()),
    };
    let typed = if decision == Decision::Approve {
        let view = view.clone();
        tokio::task::spawn_blocking(move || typed_confirmation(&view))
            .await
            .map_err(|e| Failure::new(e.to_string()))??
    } else {
        None
    };
    let key = if decision == Decision::Approve && item.request.requires.contains(&Requirement::Webauthn) {
        match required_security_key(Duration::from_secs(KEY_WAIT_SECONDS)) {
            Ok(key) => Some(key),
            Err(f) => {
                eprintln!("error: {}", text(&f.message));
                return Ok(());
            }
        }
    } else {
        None
    };
    let id = item.request.id.as_str();
    match approver.decide_with(&item.account_id, id, decision, reason, typed.as_deref(), key.as_ref()).await {
        Ok(o) => {
            out.line(&o, || format!("{decision} {}: {}", text(item.request.id.as_str()), render::delivery(&o.delivery)))
        }
        Err(e) => eprintln!("error: {}", text(&e.to_string())),
    }
    Ok(())
}

pub(super) async fn watch(out: &Out, approver: &Approver, prompt: bool, duration: Option<u64>) -> Outcome {
    let mut events = approver.subscribe();
    let run = approver.start().await?;
    let now = approver.config().clock.now();
    for item in approver.pending().await? {
        let display = rendering(approver, &item).await;
        out.line(&ApproverEvent::NewRequest { item: Box::new(item.clone()) }, || {
            format!("pending: {}", render::request_line(&item, display.as_ref().map_err(String::as_str), now))
        });
        if prompt {
            prompt_for(out, approver, &item).await?;
        }
    }
    let deadline = duration.map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let stop = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(e) => {
                    let now = approver.config().clock.now();
                    let display = match &e {
                        ApproverEvent::NewRequest { item } if !out.json => Some(rendering(approver, item).await),
                        _ => None,
                    };
                    out.line(&e, || match (&e, &display) {
                        (ApproverEvent::NewRequest { item }, Some(d)) => {
                            let d = d.as_ref().map_err(String::as_str);
                            format!("new request: {}", render::request_line(item, d, now))
                        }
                        _ => render::event(&e, now),
                    });
                    if let (true, ApproverEvent::NewRequest { item }) = (prompt, &e) {
                        prompt_for(out, approver, item).await?;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    eprintln!("warning: {n} events skipped; run `list` to see every request");
                }
                Err(_) => break,
            },
            _ = tokio::signal::ctrl_c() => break,
            () = &mut stop => break,
        }
    }
    run.shutdown().await;
    Ok(0)
}
