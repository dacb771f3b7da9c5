//! The MCP server the gateway's client talks to: the upstream's tools,
//! resources and prompts offered unchanged, with every tool call put to the
//! policy first and a gated one forwarded only once approved, exactly as
//! approved.

use crate::approval::{Gate, Outcome};
use crate::call::{GatedCall, ToolInfo};
use crate::policy::{Action, Policy};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams, CompleteResult, ContentBlock,
    GetPromptRequestParams, GetPromptResponse, Implementation, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ProgressNotificationParam, PromptsCapability,
    ReadResourceRequestParams, ReadResourceResponse, ResourcesCapability, ServerCapabilities, ServerConfig,
    ServerPeerInfo, Tool, ToolsCapability,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, Peer, RoleClient, RoleServer, ServerHandler, ServiceError};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::RwLock;

/// Said first in the description of every tool that asks.
pub const ASKS_NOTE: &str =
    "[Countersign: each call asks the user for approval on their device, and runs only if approved, exactly as approved.]";

/// The gateway's MCP server.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    upstream: Peer<RoleClient>,
    /// The upstream's `initialize` answer.
    upstream_info: ServerPeerInfo,
    /// The name the user sees for the upstream.
    server_name: String,
    policy: Policy,
    gate: Gate,
    /// What the upstream said of each tool, from its latest list.
    tools: RwLock<HashMap<String, Tool>>,
}

/// A tool result the model reads: `isError` with `text`.
fn refusal(text: String) -> CallToolResponse {
    CallToolResponse::Complete(CallToolResult::error(vec![ContentBlock::text(text)]))
}

fn cancelled(tool: &str) -> CallToolResponse {
    refusal(format!("The call was cancelled: {tool} was not run."))
}

/// An upstream failure as the client sees it: the upstream's own protocol
/// error unchanged, anything else an internal error naming no detail.
fn upstream_error(e: ServiceError) -> McpError {
    match e {
        ServiceError::McpError(e) => e,
        other => {
            eprintln!("countersign-mcp: upstream: {other}");
            McpError::internal_error("the upstream MCP server did not answer", None)
        }
    }
}

impl Gateway {
    /// The gateway over `upstream` (whose `initialize` answer was
    /// `upstream_info`), deciding by `policy` and asking through `gate`.
    #[must_use]
    pub fn new(upstream: Peer<RoleClient>, upstream_info: ServerPeerInfo, policy: Policy, gate: Gate) -> Self {
        // The schema wants 1 to 255 characters: an upstream naming itself
        // otherwise is shown as "upstream" (the policy's `server` wins).
        let server_name = policy.approval.server.clone().unwrap_or_else(|| {
            upstream_info
                .server_info
                .as_ref()
                .map(|i| i.name.clone())
                .filter(|n| !n.is_empty() && n.chars().count() <= 255)
                .unwrap_or_else(|| "upstream".to_owned())
        });
        Self {
            inner: Arc::new(Inner {
                upstream,
                upstream_info,
                server_name,
                policy,
                gate,
                tools: RwLock::new(HashMap::new()),
            }),
        }
    }

    /// The upstream's tool `name`, from the latest list (listed again when
    /// the client calls a tool it has not listed through the gateway).
    async fn tool(&self, name: &str) -> Result<Option<Tool>, McpError> {
        if let Some(t) = self.inner.tools.read().await.get(name) {
            return Ok(Some(t.clone()));
        }
        let all = self.inner.upstream.list_all_tools().await.map_err(upstream_error)?;
        let mut tools = self.inner.tools.write().await;
        for t in all {
            tools.insert(t.name.to_string(), t);
        }
        Ok(tools.get(name).cloned())
    }

    async fn forward(&self, request: CallToolRequestParams) -> Result<CallToolResponse, McpError> {
        self.inner.upstream.call_tool_once(request).await.map_err(upstream_error)
    }

    /// Asks the user about `call`; forwards it when approved and the grant
    /// covers it exactly.
    async fn gated(&self, call: GatedCall, context: &RequestContext<RoleServer>) -> Result<CallToolResponse, McpError> {
        let tool = call.tool.clone();
        let progress = context.meta.get_progress_token();
        let peer = context.peer.clone();
        let on_wait = move |elapsed: Duration, expiry: u64, binding: &str| {
            let (peer, progress, binding) = (peer.clone(), progress.clone(), binding.to_owned());
            async move {
                if let Some(token) = progress {
                    let message = format!("Waiting for the user's approval on their device (\"{binding}\")");
                    // The wait may outlast `expires_in` by the clock slack.
                    let param = ProgressNotificationParam::new(token, elapsed.as_secs_f64().min(expiry as f64))
                        .with_total(expiry as f64)
                        .with_message(message);
                    let _ = peer.notify_progress(param).await;
                }
            }
        };
        match self.inner.gate.ask(&call, &context.ct, on_wait).await {
            Outcome::Approved { granted } => {
                if let Err(e) = call.check_grant(granted.as_ref()) {
                    eprintln!("countersign-mcp: {tool}: not forwarded: {e}");
                    return Ok(refusal(format!("The call was not run: {e}.")));
                }
                // Cancelled as the approval arrived: still nothing runs.
                if context.ct.is_cancelled() {
                    return Ok(cancelled(&tool));
                }
                // A request made afresh: the approved tool and the approved
                // arguments object itself, nothing else the client sent.
                let mut forwarded = CallToolRequestParams::new(call.tool);
                forwarded.arguments = Some(call.arguments);
                // A cancel while the upstream runs it drops the request,
                // which rmcp passes on to the upstream as a cancellation.
                tokio::select! {
                    biased;
                    () = context.ct.cancelled() => Ok(cancelled(&tool)),
                    r = self.forward(forwarded) => r,
                }
            }
            Outcome::Denied { reason } => Ok(refusal(match reason {
                Some(r) => format!("The user denied this call: {tool} was not run ({r})."),
                None => format!("The user denied this call: {tool} was not run."),
            })),
            Outcome::Expired => Ok(refusal(format!(
                "The user did not answer in time: {tool} was not run. Ask again if it is still needed."
            ))),
            Outcome::Cancelled => Ok(cancelled(&tool)),
            Outcome::Failed { reason } => {
                Ok(refusal(format!("The approval could not be asked for: {reason}. {tool} was not run.")))
            }
        }
    }
}

impl ServerHandler for Gateway {
    fn get_info(&self) -> ServerConfig {
        let up = &self.inner.upstream_info;
        // What the gateway forwards: no subscriptions, no list-changed
        // notifications (not relayed), no logging level changes.
        let mut caps = ServerCapabilities::default();
        caps.tools = up.capabilities.tools.as_ref().map(|_| ToolsCapability::default());
        caps.resources = up.capabilities.resources.as_ref().map(|_| ResourcesCapability::default());
        caps.prompts = up.capabilities.prompts.as_ref().map(|_| PromptsCapability::default());
        caps.completions.clone_from(&up.capabilities.completions);
        let mut info = ServerConfig::new(caps)
            .with_server_info(up.server_info.clone().unwrap_or_else(Implementation::from_build_env));
        if let Some(i) = &up.instructions {
            info = info.with_instructions(i.clone());
        }
        info
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let mut result = self.inner.upstream.list_tools(request).await.map_err(upstream_error)?;
        {
            let mut cache = self.inner.tools.write().await;
            for t in &result.tools {
                cache.insert(t.name.to_string(), t.clone());
            }
        }
        // One policy reading per tool: refused ones dropped, asking ones noted.
        let policy = &self.inner.policy;
        result.tools.retain_mut(|t| match policy.listing(&t.name) {
            Action::Refuse => false,
            Action::Allow => true,
            Action::Ask => {
                t.description = Some(match t.description.take() {
                    Some(d) => format!("{ASKS_NOTE} {d}").into(),
                    None => ASKS_NOTE.into(),
                });
                true
            }
        });
        Ok(result)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let name = request.name.to_string();
        let arguments: Map<String, Value> = request.arguments.clone().unwrap_or_default();
        let decision = self.inner.policy.decide(&name, &arguments);
        match decision.action {
            Action::Allow => self.forward(request).await,
            Action::Refuse => Ok(refusal(format!("The gateway's policy refuses {name}: it was not run."))),
            Action::Ask => {
                // Follow-up rounds of an upstream's `input_required` would
                // carry answers the user never saw: not forwarded.
                if request.input_responses.is_some() || request.request_state.is_some() {
                    return Ok(refusal(format!(
                        "{name} asks for approval, and a call carrying input responses or request state cannot be \
                         approved through the gateway: nothing was run."
                    )));
                }
                // Never ask the user about a tool the upstream does not have.
                let Some(tool) = self.tool(&name).await? else {
                    return Ok(refusal(format!("The upstream server has no tool named {name:?}: nothing was run.")));
                };
                let info = ToolInfo {
                    title: tool.title.clone().or_else(|| tool.annotations.as_ref().and_then(|a| a.title.clone())),
                    description: tool.description.as_ref().map(ToString::to_string),
                    input_schema: (*tool.input_schema).clone(),
                };
                let call = match GatedCall::new(&self.inner.server_name, &name, Some(&info), arguments, decision.risk) {
                    Ok(c) => c,
                    Err(e) => return Ok(refusal(format!("The call cannot be asked about: {e}. {name} was not run."))),
                };
                self.gated(call, &context).await
            }
        }
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        self.inner.upstream.list_resources(request).await.map_err(upstream_error)
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        self.inner.upstream.list_resource_templates(request).await.map_err(upstream_error)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        self.inner.upstream.read_resource_once(request).await.map_err(upstream_error)
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        self.inner.upstream.list_prompts(request).await.map_err(upstream_error)
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        self.inner.upstream.get_prompt_once(request).await.map_err(upstream_error)
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        self.inner.upstream.complete(request).await.map_err(upstream_error)
    }
}
