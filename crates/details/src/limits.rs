//! Size limits: what a person can still review. The same limits apply on the
//! server (a request over them is refused with `invalid_authorization_details`)
//! and in approvers (refused, not rendered), so they are constants, not
//! options.
//!
//! Soft limits only add a warning; hard limits refuse the request.

use countersign_protocol::rar::AuthorizationDetails;
use serde_json::Value;

/// Most details in one request (hard).
pub const MAX_DETAILS: usize = 16;
/// More details than this get a request-level warning (soft).
pub const MANY_DETAILS: usize = 8;
/// Deepest nesting inside one detail, the detail object being depth 1 (hard).
pub const MAX_DEPTH: usize = 8;
/// Most items in one array (hard).
pub const MAX_ARRAY_ITEMS: usize = 100;
/// Arrays longer than this get a warning (soft).
pub const MANY_ITEMS: usize = 25;
/// Longest string or member name, in Unicode code points (hard).
pub const MAX_STRING_CHARS: usize = 8_192;
/// Strings longer than this get a warning, and are shown in full (soft).
pub const LONG_VALUE_CHARS: usize = 1_000;
/// Most values (objects, arrays, scalars) in one request (hard).
pub const MAX_NODES: usize = 2_048;
/// Most UTF-8 bytes of text (strings and member names) in one request (hard).
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Most characters listed in one warning's `characters` (the message gives
/// the total).
pub const MAX_FINDINGS: usize = 20;
/// Most characters spelled out in one warning's message.
pub const MAX_LISTED_IN_MESSAGE: usize = 5;
/// Most characters listed across one request; past it, warnings keep their
/// counts but list no positions (bounds the cost of adversarial input).
pub const MAX_LISTED_PER_REQUEST: usize = 1_000;
/// Most characters listed for one assembled text (a summary line, a title,
/// a description, a message): past it the rest of that text's characters
/// are not listed (a terminal escapes them anyway; the warnings count
/// them), so a value repeated by a summary cannot multiply the markers.
pub const MAX_LISTED_PER_TEXT: usize = 200;
/// Most limit findings reported for one request.
const MAX_REPORTED: usize = 20;

/// A hard limit exceeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Exceeded {
    /// Detail index (for too many details: the first one over the limit).
    pub index: usize,
    /// JSON Pointer within the detail.
    pub path: String,
    pub message: String,
}

pub(crate) fn escape_token(key: &str) -> std::borrow::Cow<'_, str> {
    if key.contains(['~', '/']) {
        std::borrow::Cow::Owned(key.replace('~', "~0").replace('/', "~1"))
    } else {
        std::borrow::Cow::Borrowed(key)
    }
}

struct Walk {
    nodes: usize,
    text_bytes: usize,
    found: Vec<Exceeded>,
}

impl Walk {
    fn report(&mut self, index: usize, path: &str, message: String) {
        if self.found.len() < MAX_REPORTED {
            self.found.push(Exceeded { index, path: path.to_owned(), message });
        }
    }

    fn string(&mut self, index: usize, path: &str, s: &str, what: &str) {
        self.text_bytes += s.len();
        // Only count characters when the byte length allows a violation.
        if s.len() > MAX_STRING_CHARS {
            let chars = s.chars().count();
            if chars > MAX_STRING_CHARS {
                self.report(index, path, format!("{what} of {chars} characters is longer than {MAX_STRING_CHARS}"));
            }
        }
    }

    fn value(&mut self, index: usize, v: &Value, path: &mut String, depth: usize) {
        self.nodes += 1;
        match v {
            Value::String(s) => self.string(index, path, s, "a string"),
            Value::Array(items) => {
                if depth > MAX_DEPTH {
                    self.report(index, path, format!("nesting deeper than {MAX_DEPTH} levels"));
                    return;
                }
                if items.len() > MAX_ARRAY_ITEMS {
                    self.report(
                        index,
                        path,
                        format!("an array of {} items is longer than {MAX_ARRAY_ITEMS}", items.len()),
                    );
                }
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&i.to_string());
                    self.value(index, item, path, depth + 1);
                    path.truncate(len);
                }
            }
            Value::Object(map) => {
                if depth > MAX_DEPTH {
                    self.report(index, path, format!("nesting deeper than {MAX_DEPTH} levels"));
                    return;
                }
                for (k, item) in map {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&escape_token(k));
                    self.string(index, path, k, "a member name");
                    self.value(index, item, path, depth + 1);
                    path.truncate(len);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

/// Every hard limit exceeded by `details` (at most a few; empty = within
/// limits). Cost is linear in the size of the input.
pub(crate) fn check(details: &AuthorizationDetails) -> Vec<Exceeded> {
    let mut walk = Walk { nodes: 1, text_bytes: 0, found: Vec::new() };
    if details.len() > MAX_DETAILS {
        walk.report(
            MAX_DETAILS,
            "",
            format!("{} authorization details are more than {MAX_DETAILS} in one request", details.len()),
        );
    }
    for (index, detail) in details.iter().enumerate() {
        let mut path = String::new();
        let map = detail.as_map();
        walk.nodes += 1;
        for (k, v) in map {
            path.clear();
            path.push('/');
            path.push_str(&escape_token(k));
            walk.string(index, &path, k, "a member name");
            walk.value(index, v, &mut path, 2);
        }
    }
    if walk.nodes > MAX_NODES {
        walk.report(0, "", format!("{} values are more than {MAX_NODES} in one request", walk.nodes));
    }
    if walk.text_bytes > MAX_TEXT_BYTES {
        walk.report(0, "", format!("{} bytes of text are more than {MAX_TEXT_BYTES} in one request", walk.text_bytes));
    }
    walk.found
}
