//! Receiving requests: the reconciling poll (`GET {device}/requests?status=pending`)
//! and the handling of pushed events.

use crate::approver::{Approver, Inner};
use crate::error::{Error, Result};
use crate::events::ApproverEvent;
use crate::http::typed;
use crate::store::{Account, LocalStatus};
use countersign_protocol::device::{
    request_url, ApproverRequest, DeviceErrorCode, DeviceEvent, DeviceSelf, RequestId, RequestState, RequestStatus,
    WithdrawReason, MAX_PAGE_SIZE, PATH_ME, PATH_REQUESTS, QUERY_CURSOR, QUERY_LIMIT, QUERY_STATUS,
};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashSet;

/// Pages of the request list followed at most in one sync.
const MAX_PAGES: usize = 100;

/// What a reconciling poll changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// Requests stored for the first time.
    pub new: usize,
    /// Local pending requests found no longer pending on the server.
    pub withdrawn: usize,
    /// Requests the server sent that were refused (wrong issuer or user,
    /// unreadable).
    pub refused: usize,
}

/// Parses one request object; keeps its JSON text as received.
fn parse_request(value: Value) -> Result<(ApproverRequest, String)> {
    let json = serde_json::to_string(&value).map_err(|e| Error::Protocol(e.to_string()))?;
    let request: ApproverRequest = typed(value, "request")?;
    Ok((request, json))
}

/// A request is for this account only if issuer and user match.
fn belongs(account: &Account, request: &ApproverRequest) -> bool {
    request.issuer == account.issuer && request.user.sub == account.user.sub
}

fn withdraw_status(reason: &WithdrawReason) -> LocalStatus {
    match reason {
        WithdrawReason::Cancelled => LocalStatus::Cancelled,
        WithdrawReason::Expired => LocalStatus::Expired,
        WithdrawReason::DecidedElsewhere => LocalStatus::DecidedElsewhere,
        WithdrawReason::Extension(_) => LocalStatus::Withdrawn,
    }
}

impl Inner {
    /// Stores requests for `account` and tells subscribers about new ones.
    pub(crate) async fn accept_requests(
        &self,
        account: &Account,
        requests: Vec<(ApproverRequest, String)>,
    ) -> Result<(usize, usize)> {
        let (mine, theirs): (Vec<_>, Vec<_>) = requests.into_iter().partition(|(r, _)| belongs(account, r));
        if !mine.is_empty() {
            // Fresh schemas before anything is shown (a no-op while the cache
            // is recent and covers every type).
            let types: Vec<String> =
                mine.iter().flat_map(|(r, _)| r.authorization_details.types().map(str::to_owned)).collect();
            self.ensure_schemas(account, &types).await;
        }
        for (r, _) in &theirs {
            tracing::warn!(
                "refused request {} for issuer {} / user {}: not this account's",
                r.id,
                r.issuer,
                r.user.sub
            );
        }
        let new = self.store.insert_requests(&account.id, mine, self.now()).await?;
        let count = new.len();
        for item in new {
            self.emit(ApproverEvent::NewRequest { item: Box::new(item) });
        }
        Ok((count, theirs.len()))
    }

    async fn withdraw(&self, account_id: &str, request_id: &str, to: LocalStatus, reason: &str) -> Result<bool> {
        let moved = self
            .store
            .set_status(account_id, request_id, &[LocalStatus::Pending], to, Some(reason), self.now())
            .await?;
        if moved {
            self.emit(ApproverEvent::Withdrawn {
                account_id: account_id.to_owned(),
                request_id: request_id.to_owned(),
                reason: reason.to_owned(),
            });
        }
        Ok(moved)
    }

    /// Handles one pushed event. Unknown events are ignored.
    pub(crate) async fn handle_event(&self, account: &Account, event: &str, data: &str) -> Result<()> {
        let parsed = match DeviceEvent::parse(event, data) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!("ignored malformed {event:?} event: {e}");
                return Ok(());
            }
        };
        match parsed {
            DeviceEvent::Request(request) => {
                let value =
                    countersign_protocol::jcs::parse_strict(data).map_err(|e| Error::Protocol(e.to_string()))?;
                let json = serde_json::to_string(&value).map_err(|e| Error::Protocol(e.to_string()))?;
                self.accept_requests(account, vec![(*request, json)]).await?;
            }
            DeviceEvent::Withdrawn(w) => {
                self.withdraw(&account.id, w.id.as_str(), withdraw_status(&w.reason), w.reason.as_str()).await?;
            }
            DeviceEvent::GrantRevoked(grant) => {
                self.emit(ApproverEvent::GrantRevoked { account_id: account.id.clone(), grant });
            }
            DeviceEvent::AdminNotice(notice) => {
                self.emit(ApproverEvent::AdminNotice { account_id: account.id.clone(), notice });
            }
            DeviceEvent::Unknown { .. } => {}
        }
        Ok(())
    }
}

impl Approver {
    /// Reconciles the inbox of `account_id` with the server: stores pending
    /// requests not seen yet, and settles local pending requests the server
    /// no longer lists (decided elsewhere, cancelled, expired).
    ///
    /// # Errors
    /// The server cannot be reached or refuses; the store.
    pub async fn sync(&self, account_id: &str) -> Result<SyncReport> {
        let inner = &self.inner;
        let account = inner.store.account(account_id).await?;
        let key = inner.key_for(&account).await?;
        // Who the server says this device's user is now: a role given or
        // taken away shows from this sync on (the server checks the role on
        // every admin call anyway).
        // A server from before `/me` answers 404: the stored user stays.
        let url = format!("{}{PATH_ME}", account.device_endpoint);
        let me =
            inner.http.device_get(&url, &inner.auth(&account, &key)).await.and_then(|v| typed::<DeviceSelf>(v, "me"));
        match me {
            // Unknown members are ignored (a later server may add some); the
            // device and user must be this account's.
            Ok(me) => {
                if me.device_id != account.device_id || me.user.sub != account.user.sub {
                    return Err(Error::Protocol("the server named another device or user for this account".into()));
                }
                if inner.store.set_user(&account.id, &me.user).await? {
                    tracing::info!(account_id = %account.id, "the user's name or roles changed on the server");
                }
            }
            // Not fatal: the requests matter more than a name or a role
            // (the admin API checks the role itself).
            Err(Error::Server { status: 404, .. }) => {}
            Err(e) => {
                tracing::warn!(account_id = %account.id, error = %e, "reading {PATH_ME} failed; the stored user stays")
            }
        }
        let mut report = SyncReport::default();
        let mut listed = HashSet::new();
        let mut requests = Vec::new();
        // Every page, following `next_cursor` (protocol §5.2), up to a bound
        // that no honest server reaches (it caps pending requests per user).
        let mut cursor: Option<String> = None;
        for page in 0.. {
            if page == MAX_PAGES {
                return Err(Error::Protocol(format!("the request list has more than {MAX_PAGES} pages")));
            }
            let mut url = format!(
                "{}{PATH_REQUESTS}?{QUERY_STATUS}=pending&{QUERY_LIMIT}={MAX_PAGE_SIZE}",
                account.device_endpoint
            );
            if let Some(c) = &cursor {
                url.push_str(&format!("&{QUERY_CURSOR}="));
                url.extend(url::form_urlencoded::byte_serialize(c.as_bytes()));
            }
            let value = inner.http.device_get(&url, &inner.auth(&account, &key)).await?;
            let Some(Value::Array(items)) = value.get("requests").cloned() else {
                return Err(Error::Protocol("request list without a \"requests\" array".into()));
            };
            for item in items {
                match parse_request(item) {
                    Ok((r, json)) => {
                        listed.insert(r.id.as_str().to_owned());
                        requests.push((r, json));
                    }
                    Err(e) => {
                        tracing::warn!("ignored an unreadable request: {e}");
                        report.refused += 1;
                    }
                }
            }
            match value.get("next_cursor") {
                None | Some(Value::Null) => break,
                Some(Value::String(next)) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next.clone()),
                Some(_) => {
                    return Err(Error::Protocol("the request list gave a malformed or repeated next_cursor".into()))
                }
            }
        }
        let (new, refused) = inner.accept_requests(&account, requests).await?;
        report.new = new;
        report.refused += refused;

        inner.expire_due(inner.now()).await?;
        let local: Vec<_> = inner
            .store
            .inbox(&[LocalStatus::Pending])
            .await?
            .into_iter()
            .filter(|i| i.account_id == account.id && !listed.contains(i.request.id.as_str()))
            .collect();
        for item in local {
            if self.settle(&account, &key, &item.request.id).await? {
                report.withdrawn += 1;
            }
        }
        Ok(report)
    }

    /// Asks the server where one locally pending request stands and settles it.
    async fn settle(
        &self,
        account: &Account,
        key: &countersign_protocol::jws::DeviceKeyPair,
        id: &RequestId,
    ) -> Result<bool> {
        let inner = &self.inner;
        let url = request_url(&account.device_endpoint, id);
        let (to, reason) = match inner.http.device_get(&url, &inner.auth(account, key)).await {
            Ok(v) => {
                let state: RequestState = typed(v, "request state")?;
                match state.status {
                    RequestStatus::Pending => return Ok(false),
                    RequestStatus::Approved | RequestStatus::Denied => {
                        (LocalStatus::DecidedElsewhere, WithdrawReason::DecidedElsewhere.as_str().to_owned())
                    }
                    RequestStatus::Expired => (LocalStatus::Expired, "expired".to_owned()),
                    RequestStatus::Cancelled => (LocalStatus::Cancelled, "cancelled".to_owned()),
                    RequestStatus::Extension(s) => (LocalStatus::Withdrawn, s),
                }
            }
            Err(Error::Server { error, .. }) if error.error == DeviceErrorCode::NotFound => {
                (LocalStatus::Withdrawn, "not_found".to_owned())
            }
            Err(e) if e.is_transient() => return Ok(false),
            Err(e) => return Err(e),
        };
        inner.withdraw(&account.id, id.as_str(), to, &reason).await
    }

    /// [`Approver::sync`] for every account; returns each account's result.
    pub async fn sync_all(&self) -> Vec<(String, Result<SyncReport>)> {
        let mut out = Vec::new();
        match self.inner.store.accounts().await {
            Ok(accounts) => {
                for a in accounts {
                    let r = self.sync(&a.id).await;
                    out.push((a.id, r));
                }
            }
            Err(e) => out.push((String::new(), Err(e))),
        }
        out
    }
}
