//! A minimal HTTP/1.1 client (xtask uses std only) and the few text
//! helpers the setup needs.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

// --- A minimal HTTP/1.1 client (xtask uses std only) ---------------------------

pub(super) fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|e| e.to_string())?;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or("no HTTP status")?;
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    Ok((status, dechunk(&answer, body)))
}

/// The body of a `Transfer-Encoding: chunked` answer, joined.
pub(super) fn dechunk(answer: &str, body: &str) -> String {
    let head = answer.split("\r\n\r\n").next().unwrap_or("").to_ascii_lowercase();
    if !head.contains("transfer-encoding: chunked") {
        return body.to_owned();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

/// The string member `key` of a flat JSON object (what the registration and
/// backchannel answers are), without a JSON parser.
pub(super) fn json_string(json: &str, key: &str) -> Option<String> {
    let at = json.find(&format!("\"{key}\""))?;
    let rest = json[at + key.len() + 2..].trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_owned())
}

/// `application/x-www-form-urlencoded` value encoding.
pub(super) fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._*".contains(&b) {
            out.push(b as char);
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_forms_and_reads_flat_json() {
        assert_eq!(form_encode(r#"[{"a":"b c"}]"#), "%5B%7B%22a%22%3A%22b+c%22%7D%5D");
        assert_eq!(json_string(r#"{"auth_req_id": "x-1","expires_in":300}"#, "auth_req_id").as_deref(), Some("x-1"));
        assert_eq!(json_string(r#"{"error":"invalid_request"}"#, "auth_req_id"), None);
        assert_eq!(
            dechunk("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"),
            "abcde"
        );
    }
}
