//! `countersign-cli admin ...`: the admin API for an administrator's
//! account. Lists print one page (`--cursor` for the next); actions that
//! change something ask first (`--yes` to skip) and say what they did.
//! Every text the server sends is escaped ([`text`]).

use clap::Subcommand;
use countersign_approver::admin::{AdminAction, AdminList, AdminQuery};
use countersign_approver::Approver;
use countersign_protocol::admin::{AuditEntry, Client, Device, Grant, Page, PendingRequest, User};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{confirm, one_account, Failure, Out, Outcome};
use crate::render;
use crate::safe::text;

/// Paging options of every list.
#[derive(Debug, clap::Args)]
pub(super) struct Paging {
    /// Items per page (1 to 500).
    #[arg(long)]
    limit: Option<u32>,
    /// The next page: the `next_cursor` a previous page printed.
    #[arg(long)]
    cursor: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(super) enum AdminCommand {
    /// Pending requests across the organisation.
    Pending {
        /// Only this user's (`sub`).
        #[arg(long)]
        sub: Option<String>,
        /// Only this client's.
        #[arg(long)]
        client_id: Option<String>,
        /// Only those with an authorization_details entry of this type.
        #[arg(long = "type")]
        detail_type: Option<String>,
        /// Only this risk (low, medium, high, critical).
        #[arg(long)]
        risk: Option<String>,
        /// Only those pending for at least this many seconds.
        #[arg(long)]
        older_than: Option<u64>,
        #[command(flatten)]
        paging: Paging,
    },
    /// Grants: issued access tokens and what they allow.
    Grants {
        /// Only this user's.
        #[arg(long)]
        sub: Option<String>,
        /// Only this client's.
        #[arg(long)]
        client_id: Option<String>,
        /// active, expired or revoked.
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// Revoke a grant: its access and refresh tokens introspect inactive at once.
    Revoke {
        /// The grant id (from `grants`).
        grant_id: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Cancel a pending request: the user's approvers withdraw it, the agent
    /// is told an administrator cancelled it.
    Cancel {
        /// The request id (from `pending`).
        request_id: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Clients (agents), with their verification and blocks.
    Clients {
        #[command(flatten)]
        paging: Paging,
    },
    /// Mark a client verified (--undo: no longer verified).
    VerifyClient {
        /// The client_id.
        client_id: String,
        /// Take the verification back.
        #[arg(long)]
        undo: bool,
    },
    /// Block a client for one user (--sub) or for everyone.
    Block {
        /// The client_id.
        client_id: String,
        /// The user (`sub`); without it, everyone.
        #[arg(long)]
        sub: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Lift a block of a client for one user (--sub) or for everyone.
    Unblock {
        /// The client_id.
        client_id: String,
        /// The user (`sub`); without it, everyone.
        #[arg(long)]
        sub: Option<String>,
    },
    /// Users and their roles.
    Users {
        #[command(flatten)]
        paging: Paging,
    },
    /// Enrolled devices (of one user with --sub); --revoke ID revokes one.
    Devices {
        /// Only this user's.
        #[arg(long)]
        sub: Option<String>,
        /// Revoke this device (its open streams close at once).
        #[arg(long, value_name = "DEVICE_ID")]
        revoke: Option<String>,
        /// Do not ask for confirmation (with --revoke).
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        paging: Paging,
    },
    /// The audit log, newest first.
    Audit {
        /// Only this action (request.created, token.revoked, ...).
        #[arg(long)]
        action: Option<String>,
        /// Only entries concerning this user.
        #[arg(long)]
        sub: Option<String>,
        /// Only entries by this actor (device:ID, client:ID, operator:NAME).
        #[arg(long)]
        actor: Option<String>,
        /// Only entries on this target (a request, grant, client or device id).
        #[arg(long)]
        target: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
}

fn query(paging: Paging) -> AdminQuery {
    AdminQuery::default().with("limit", paging.limit.map(|n| n.to_string())).with("cursor", paging.cursor)
}

/// Prints a page: JSON as received, or one line per item and the cursor.
fn print_page<T: Serialize>(out: &Out, page: &Page<T>, empty: &str, line: impl Fn(&T) -> String) {
    out.print(page, || {
        let mut lines: Vec<String> = page.items.iter().map(&line).collect();
        if lines.is_empty() {
            // A filtered page of the log may be empty with more to look at.
            lines.push(if page.next_cursor.is_some() { "None on this page." } else { empty }.to_owned());
        }
        if let Some(c) = &page.next_cursor {
            lines.push(format!("More: --cursor {}", text(c)));
        }
        lines.join("\n")
    });
}

async fn page<T: DeserializeOwned>(
    approver: &Approver,
    account: &str,
    list: AdminList,
    q: &AdminQuery,
) -> Result<Page<T>, Failure> {
    Ok(approver.admin_page(account, list, q).await?)
}

async fn act(out: &Out, approver: &Approver, account: &str, action: AdminAction, done: &str, nothing: &str) -> Outcome {
    let result = approver.admin_action(account, &action).await?;
    out.print(&result, || if result.changed { done.to_owned() } else { nothing.to_owned() });
    Ok(0)
}

fn asked(yes: bool, question: &str) -> Result<(), Failure> {
    if yes || confirm(question) {
        Ok(())
    } else {
        Err(Failure::new("cancelled: nothing was changed"))
    }
}

pub(super) async fn admin_command(
    out: &Out,
    approver: &Approver,
    account: Option<String>,
    cmd: AdminCommand,
) -> Outcome {
    let account = one_account(approver, account).await?;
    let id = account.id.as_str();
    let now = approver.config().clock.now();
    match cmd {
        AdminCommand::Pending { sub, client_id, detail_type, risk, older_than, paging } => {
            let q = query(paging)
                .with("sub", sub)
                .with("client_id", client_id)
                .with("type", detail_type)
                .with("risk", risk)
                .with("older_than", older_than.map(|s| s.to_string()));
            let p: Page<PendingRequest> = page(approver, id, AdminList::Pending, &q).await?;
            print_page(out, &p, "No pending requests.", |x| pending_line(x, now));
        }
        AdminCommand::Grants { sub, client_id, status, paging } => {
            let q = query(paging).with("sub", sub).with("client_id", client_id).with("status", status);
            let p: Page<Grant> = page(approver, id, AdminList::Grants, &q).await?;
            print_page(out, &p, "No grants.", grant_line);
        }
        AdminCommand::Revoke { grant_id, yes } => {
            asked(
                yes,
                &format!("Revoke grant {}? Its access and refresh tokens stop working at once.", text(&grant_id)),
            )?;
            let action = AdminAction::RevokeGrant { grant_id };
            return act(out, approver, id, action, "Revoked.", "It was already revoked.").await;
        }
        AdminCommand::Cancel { request_id, yes } => {
            asked(
                yes,
                &format!(
                    "Cancel request {}? The user's approvers withdraw it and the agent is told an administrator \
                     cancelled it.",
                    text(&request_id)
                ),
            )?;
            let action = AdminAction::Cancel { request_id };
            return act(out, approver, id, action, "Cancelled.", "It was not pending any more.").await;
        }
        AdminCommand::Clients { paging } => {
            let p: Page<Client> = page(approver, id, AdminList::Clients, &query(paging)).await?;
            print_page(out, &p, "No clients.", client_line);
        }
        AdminCommand::VerifyClient { client_id, undo } => {
            let action = AdminAction::VerifyClient { client_id, verified: !undo };
            let done = if undo { "The client is no longer verified." } else { "The client is verified." };
            return act(out, approver, id, action, done, "Nothing changed.").await;
        }
        AdminCommand::Block { client_id, sub, yes } => {
            let whom = sub.as_deref().map_or_else(|| "everyone".to_owned(), text);
            asked(
                yes,
                &format!(
                    "Block client {} for {whom}? Its pending requests are cancelled, its tokens revoked, and its new \
                     requests refused.",
                    text(&client_id)
                ),
            )?;
            let action = AdminAction::Block { client_id, sub };
            return act(out, approver, id, action, "Blocked.", "It was already blocked.").await;
        }
        AdminCommand::Unblock { client_id, sub } => {
            let action = AdminAction::Unblock { client_id, sub };
            return act(out, approver, id, action, "Unblocked.", "It was not blocked.").await;
        }
        AdminCommand::Users { paging } => {
            let p: Page<User> = page(approver, id, AdminList::Users, &query(paging)).await?;
            print_page(out, &p, "No users.", user_line);
        }
        AdminCommand::Devices { sub, revoke: Some(device_id), yes, .. } => {
            let _ = sub;
            asked(yes, &format!("Revoke device {}? It is refused at once and its streams close.", text(&device_id)))?;
            let action = AdminAction::RevokeDevice { device_id };
            return act(out, approver, id, action, "Revoked.", "It was already revoked.").await;
        }
        AdminCommand::Devices { sub, revoke: None, paging, .. } => {
            let p: Page<Device> = page(approver, id, AdminList::Devices, &query(paging).with("sub", sub)).await?;
            print_page(out, &p, "No devices.", device_line);
        }
        AdminCommand::Audit { action, sub, actor, target, paging } => {
            let q = query(paging).with("action", action).with("sub", sub).with("actor", actor).with("target", target);
            let p: Page<AuditEntry> = page(approver, id, AdminList::Audit, &q).await?;
            print_page(out, &p, "No entries.", audit_line);
        }
    }
    Ok(0)
}

/// One line of `admin pending`.
fn pending_line(r: &PendingRequest, now: u64) -> String {
    format!(
        "{}  {}  {} for {} ({})  {}  \"{}\"  made {}, expires {}",
        text(&r.id),
        text(r.risk.as_str()),
        text(&r.client_name),
        text(&r.user_name),
        text(&r.sub),
        if r.verified { "verified" } else { "UNVERIFIED" },
        text(&r.binding_message),
        render::ago(r.created_at, now),
        render::utc_time(r.expires_at),
    )
}

/// One line of `admin grants`.
fn grant_line(g: &Grant) -> String {
    let types: Vec<String> = g
        .authorization_details
        .as_array()
        .map(|a| a.iter().filter_map(|d| d["type"].as_str()).map(text).collect())
        .unwrap_or_default();
    let amr: Vec<String> = g.amr.iter().map(|m| text(m.as_str())).collect();
    format!(
        "{}  {}  {} -> {}  scope {}  types {}  amr {}  issued {}, expires {}{}",
        text(&g.id),
        text(g.status.as_str()),
        text(&g.client_id),
        text(&g.sub),
        text(&g.scope.join(" ")),
        types.join(","),
        if amr.is_empty() { "-".to_owned() } else { amr.join(" ") },
        render::utc_time(g.issued_at),
        render::utc_time(g.expires_at),
        g.refreshable_until.map(|t| format!(", refreshable until {}", render::utc_time(t))).unwrap_or_default(),
    )
}

/// One line of `admin clients`.
fn client_line(c: &Client) -> String {
    format!(
        "{}  {}  {}  {}  {}",
        text(&c.client_id),
        text(&c.client_name),
        c.verified_by.as_deref().map_or_else(|| "unverified".to_owned(), |by| format!("verified by {}", text(by))),
        if c.blocked { "BLOCKED for everyone" } else { "active" },
        if c.blocked_for.is_empty() {
            String::new()
        } else {
            format!("blocked for {}", c.blocked_for.iter().map(|s| text(s)).collect::<Vec<_>>().join(","))
        },
    )
}

/// One line of `admin users`.
fn user_line(u: &User) -> String {
    format!(
        "{}  {}  {}  roles {}  {} device(s){}",
        text(&u.sub),
        text(&u.username),
        text(&u.name),
        text(&u.roles.join(",")),
        u.active_devices,
        if u.disabled { "  DISABLED" } else { "" }
    )
}

/// One line of `admin devices`.
fn device_line(d: &Device) -> String {
    format!(
        "{}  {}  {}  {}  enrolled {}  {}",
        text(&d.device_id),
        text(&d.sub),
        text(&d.device_name),
        text(&d.platform),
        render::utc_time(d.created_at),
        d.revoked_at.map_or_else(|| "active".to_owned(), |t| format!("revoked {}", render::utc_time(t)))
    )
}

/// One line of `admin audit`.
fn audit_line(e: &AuditEntry) -> String {
    format!(
        "{}  {}  {}  {}  {}{}  {}",
        e.seq,
        render::utc_time(e.at),
        text(&e.actor),
        text(e.action.as_str()),
        e.target.as_deref().map(text).unwrap_or_default(),
        e.sub.as_deref().map(|s| format!(" ({})", text(s))).unwrap_or_default(),
        text(&e.data.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use countersign_protocol::admin::{AuditAction, GrantStatus};
    use countersign_protocol::amr::Amr;
    use countersign_protocol::device::Risk;
    use serde_json::json;

    /// Text a hostile server could send: a bidi override and an escape
    /// sequence in every string.
    const HOSTILE: &str = "a\u{202e}b\u{1b}[31mc";

    fn assert_escaped(line: &str) {
        assert!(!line.contains('\u{202e}') && !line.contains('\u{1b}'), "raw control printed: {line:?}");
        assert!(line.contains('a') && line.contains("[31mc"), "the text is still shown: {line:?}");
    }

    // Every field of every line goes through `text`, including the
    // registered values a server may extend (risk, status, amr, action).
    #[test]
    fn every_line_escapes_every_field_a_server_sends() {
        let h = || HOSTILE.to_owned();
        let pending = PendingRequest {
            id: h(),
            client_id: h(),
            client_name: h(),
            verified: false,
            sub: h(),
            user_name: h(),
            binding_message: h(),
            scope: vec![h()],
            authorization_details: json!([{ "type": HOSTILE }]),
            risk: Risk::from(HOSTILE),
            created_at: 0,
            expires_at: 0,
        };
        assert_escaped(&pending_line(&pending, 0));
        let grant = Grant {
            id: h(),
            request_id: h(),
            sub: h(),
            client_id: h(),
            scope: vec![h()],
            authorization_details: json!([{ "type": HOSTILE }]),
            amr: vec![Amr::from(HOSTILE)],
            issued_at: 0,
            expires_at: 0,
            status: GrantStatus::from(HOSTILE),
            revoked_at: None,
            refreshable_until: Some(0),
        };
        let line = grant_line(&grant);
        assert_escaped(&line);
        assert_eq!(line.matches("[31mc").count(), 7, "id, status, client, sub, scope, type, amr: {line}");
        let client = Client {
            client_id: h(),
            client_name: h(),
            delivery_mode: h(),
            verified: true,
            verified_by: Some(h()),
            blocked: false,
            blocked_for: vec![h()],
            created_at: 0,
        };
        assert_escaped(&client_line(&client));
        let user = User { sub: h(), username: h(), name: h(), roles: vec![h()], disabled: false, active_devices: 1 };
        assert_escaped(&user_line(&user));
        let device =
            Device { device_id: h(), sub: h(), device_name: h(), platform: h(), created_at: 0, revoked_at: None };
        assert_escaped(&device_line(&device));
        let entry = AuditEntry {
            seq: 1,
            at: 0,
            actor: h(),
            action: AuditAction::from(HOSTILE),
            target: Some(h()),
            sub: Some(h()),
            data: json!({ "k": HOSTILE }),
            hash: h(),
        };
        assert_escaped(&audit_line(&entry));
    }
}
