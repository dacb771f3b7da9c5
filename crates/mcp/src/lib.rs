//! `countersign-mcp`: an MCP gateway. In front of any MCP server (a child
//! process over stdio, or streamable HTTP at a URL), it offers the upstream's tools, resources and
//! prompts to its own client unchanged, and sends every tool call its
//! policy gates to the user's approvers through CIBA, with every argument
//! in the `authorization_details`; a call runs only once approved, and only
//! if the granted details are exactly that call. See docs/mcp.md.
//!
//! Layers: [`policy`] and [`call`] are pure (the policy file; the detail and
//! the grant check), [`approval`] speaks CIBA through `countersign-agent`,
//! [`gateway`] is the MCP server on `rmcp` (over stdio, or streamable HTTP
//! with [`http`]), [`cli`] the binary's commands.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod approval;
pub mod call;
pub mod cli;
pub mod gateway;
pub mod http;
pub mod policy;
