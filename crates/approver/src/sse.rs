//! An incremental Server-Sent Events parser (WHATWG HTML §9.2.6), fed with
//! the bytes of the stream as they come.

/// Longest line accepted (a request event is a single `data:` line).
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// What the parser produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem {
    /// A complete event.
    Event {
        /// `id:` of the event, if any.
        id: Option<String>,
        /// `event:` name (`message` when absent).
        event: String,
        /// The `data:` lines joined with `\n`.
        data: String,
    },
    /// A comment line (`: heartbeat`).
    Comment,
}

/// Why the stream was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// A line longer than [`MAX_LINE_BYTES`].
    #[error("event stream line longer than {MAX_LINE_BYTES} bytes")]
    LineTooLong,
    /// A line that is not UTF-8.
    #[error("event stream is not UTF-8")]
    NotUtf8,
}

/// The parser state.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    after_cr: bool,
    id: Option<String>,
    event: Option<String>,
    data: Option<String>,
}

impl SseParser {
    /// A fresh parser.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns the items completed by them.
    ///
    /// # Errors
    /// [`SseError`]: the stream must be dropped.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<SseItem>, SseError> {
        let mut out = Vec::new();
        for &b in bytes {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' => self.end_line(&mut out)?,
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(&mut out)?;
                }
                _ => {
                    if self.line.len() >= MAX_LINE_BYTES {
                        return Err(SseError::LineTooLong);
                    }
                    self.line.push(b);
                }
            }
        }
        Ok(out)
    }

    fn end_line(&mut self, out: &mut Vec<SseItem>) -> Result<(), SseError> {
        let raw = std::mem::take(&mut self.line);
        let line = String::from_utf8(raw).map_err(|_| SseError::NotUtf8)?;
        let line = line.strip_prefix('\u{feff}').unwrap_or(&line);
        if line.is_empty() {
            let data = self.data.take();
            let event = self.event.take();
            if let Some(data) = data {
                out.push(SseItem::Event {
                    id: self.id.clone(),
                    event: event.unwrap_or_else(|| "message".to_owned()),
                    data,
                });
            }
            return Ok(());
        }
        if line.starts_with(':') {
            out.push(SseItem::Comment);
            return Ok(());
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            _ => {}
        }
        Ok(())
    }

    /// The last event id seen (kept across events, as the spec says).
    #[must_use]
    pub fn last_id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: Option<&str>, event: &str, data: &str) -> SseItem {
        SseItem::Event { id: id.map(str::to_owned), event: event.to_owned(), data: data.to_owned() }
    }

    #[test]
    fn parses_events_comments_and_split_chunks() {
        let mut p = SseParser::new();
        let stream =
            b": heartbeat\n\nid: 1\nevent: request\ndata: {\"a\":1}\n\nid: 2\r\nevent: withdrawn\r\ndata: x\r\n\r\n";
        let mut items = Vec::new();
        for chunk in stream.chunks(3) {
            items.extend(p.feed(chunk).unwrap());
        }
        assert_eq!(
            items,
            vec![SseItem::Comment, ev(Some("1"), "request", "{\"a\":1}"), ev(Some("2"), "withdrawn", "x")]
        );
        assert_eq!(p.last_id(), Some("2"));
    }

    #[test]
    fn multi_line_data_default_event_and_bare_cr() {
        let mut p = SseParser::new();
        let items = p.feed(b"data: a\rdata:b\r\rdata\n\n").unwrap();
        assert_eq!(items, vec![ev(None, "message", "a\nb"), ev(None, "message", "")]);
    }

    #[test]
    fn event_without_data_is_not_dispatched_but_id_sticks() {
        let mut p = SseParser::new();
        assert!(p.feed(b"id: 7\nevent: request\n\n").unwrap().is_empty());
        assert_eq!(p.last_id(), Some("7"));
        assert_eq!(p.feed(b"data: z\n\n").unwrap(), vec![ev(Some("7"), "message", "z")]);
    }

    #[test]
    fn refuses_overlong_lines_and_bad_utf8() {
        let mut p = SseParser::new();
        assert_eq!(p.feed(&vec![b'a'; MAX_LINE_BYTES + 1]), Err(SseError::LineTooLong));
        let mut p = SseParser::new();
        assert_eq!(p.feed(b"data: \xff\n"), Err(SseError::NotUtf8));
    }
}
