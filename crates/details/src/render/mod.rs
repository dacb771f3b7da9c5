//! `authorization_details` → [`DisplayModel`].
//!
//! Rules (each tested in `tests/rules.rs`):
//! - every member present is shown: described ones in schema order, the
//!   others under "Not described by the schema" with a warning; the root
//!   `type` is the detail's header;
//! - a schema violation marks the detail invalid and the request not
//!   approvable, with a warning naming the JSON path;
//! - a type without a schema renders as a tree labelled with the member names
//!   and a "no schema" warning;
//! - Auth0 Guardian details render by `display_order`, `display: false`
//!   entries collapsed, never dropped;
//! - MCP tool calls render one field per argument, in the order sent;
//! - every string (and every member name that becomes a label) goes through
//!   the checks in [`crate::text`]; values are never altered.

use crate::format::{self, Locale};
use crate::limits::{self, escape_token, MANY_DETAILS, MANY_ITEMS, MAX_LISTED_PER_REQUEST};
use crate::model::{
    DetailView, DisplayModel, Field, FieldValue, Format, JsonType, LabelSource, RenderOptions, Renderer, RequestStatus,
    Risk, Severity, Warning, WarningCode, WorstWarning,
};
use crate::registry::Registry;
use crate::schema::{Layout, SchemaSet};
use crate::text::{self, Budget, Revealed, TextKind};
use countersign_protocol::device::ids::SchemaHash;
use countersign_protocol::jcs;
use countersign_protocol::rar::{AuthorizationDetail, AuthorizationDetails};
use countersign_text::Context;
use serde_json::{Map, Number, Value};

mod guardian;
mod mcp;
mod summary;

use summary::*;

/// Values longer than this (in characters) get the `wrap` hint.
const WRAP_CHARS: usize = 48;

/// Renders `details` for a person to review. Never fails: problems become
/// warnings, a refusal, or `approvable: false`.
#[must_use]
pub fn render(details: &AuthorizationDetails, registry: &Registry, options: &RenderOptions) -> DisplayModel {
    let display_schemas = registry.display_schemas(details);
    let exceeded = limits::check(details);
    if !exceeded.is_empty() {
        let warnings = exceeded
            .into_iter()
            .map(|e| {
                let mut message = Revealed::line(&format!("Refused: detail {}", e.index));
                if !e.path.is_empty() {
                    message.push(" at ", Context::Line).quote(&e.path, Context::Identifier);
                }
                message.push(": ", Context::Line).push(&e.message, Context::Line);
                Warning::quoting(WarningCode::LimitExceeded, Severity::Danger, message).at(Some(e.index), Some(e.path))
            })
            .collect();
        return finish(RequestStatus::Refused, warnings, Vec::new(), display_schemas);
    }
    let ctx = Ctx {
        locale: Locale::parse(&options.locale),
        offset_minutes: options.utc_offset_minutes,
        budget: Budget::new(MAX_LISTED_PER_REQUEST),
        marks: Budget::new(MAX_LISTED_PER_REQUEST),
    };
    let mut warnings = Vec::new();
    if details.len() > MANY_DETAILS {
        warnings.push(Warning::new(
            WarningCode::ManyDetails,
            Severity::Caution,
            format!("This request asks for {} separate authorizations: review each of them", details.len()),
        ));
    }
    let views: Vec<DetailView> =
        details.iter().enumerate().map(|(index, detail)| render_detail(&ctx, registry, index, detail)).collect();
    let status = if views.iter().all(|v| v.valid) { RequestStatus::Valid } else { RequestStatus::Invalid };
    finish(status, warnings, views, display_schemas)
}

/// Parses the `authorization_details` parameter strictly (duplicate member
/// names, unsafe integers and deep nesting are refused by
/// `countersign-protocol`) and renders it; text that does not parse gives a
/// refused model naming the problem.
#[must_use]
pub fn render_param(param: &str, registry: &Registry, options: &RenderOptions) -> DisplayModel {
    match AuthorizationDetails::from_param(param) {
        Ok(details) => render(&details, registry, options),
        Err(e) => {
            let mut message = Revealed::line("Refused: ");
            message.quote(&e.to_string(), Context::Line);
            let w = Warning::quoting(WarningCode::Unparseable, Severity::Danger, message);
            finish(RequestStatus::Refused, vec![w], Vec::new(), Default::default())
        }
    }
}

fn finish(
    status: RequestStatus,
    warnings: Vec<Warning>,
    details: Vec<DetailView>,
    display_schemas: std::collections::BTreeMap<String, SchemaHash>,
) -> DisplayModel {
    let mut count = warnings.len();
    let mut max = warnings.iter().map(|w| w.severity).max();
    let mut worst = WorstWarning::of(&warnings);
    let mut note = |w: &Warning| {
        count += 1;
        max = max.max(Some(w.severity));
        let this = WorstWarning::of([w]);
        let key = |x: &Option<WorstWarning>| x.as_ref().map(|x| (x.severity, x.code.concern()));
        if key(&this) > key(&worst) {
            worst = this;
        }
    };
    fn walk(fields: &[Field], note: &mut dyn FnMut(&Warning)) {
        for f in fields {
            f.warnings.iter().for_each(&mut *note);
            match &f.value {
                FieldValue::Object { fields } => walk(fields, note),
                FieldValue::Array { items } => walk(items, note),
                _ => {}
            }
        }
    }
    for d in &details {
        d.warnings.iter().for_each(&mut note);
        walk(&d.fields, &mut note);
        walk(&d.undescribed, &mut note);
    }
    DisplayModel {
        approvable: status == RequestStatus::Valid,
        status,
        warnings,
        details,
        display_schemas,
        warning_count: count,
        max_severity: max,
        worst_warning: worst,
    }
}

struct Ctx {
    locale: Locale,
    offset_minutes: i32,
    /// Characters listed in warnings.
    budget: Budget,
    /// Characters marked in paths and labels (their own budget, so that a
    /// hostile member name repeated in every nested path cannot take the
    /// warnings' positions away).
    marks: Budget,
}

struct DetailRenderer<'c> {
    ctx: &'c Ctx,
    index: usize,
    undescribed: Vec<Field>,
}

fn join(path: &str, key: &str) -> String {
    let token = escape_token(key);
    let mut out = String::with_capacity(path.len() + 1 + token.len());
    out.push_str(path);
    out.push('/');
    out.push_str(&token);
    out
}

fn number_text(n: &Number) -> String {
    jcs::canonicalize(&Value::Number(n.clone()))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| n.to_string())
}

fn render_detail(ctx: &Ctx, registry: &Registry, index: usize, detail: &AuthorizationDetail) -> DetailView {
    let type_name = detail.r#type();
    let mut r = DetailRenderer { ctx, index, undescribed: Vec::new() };
    let kind = TextKind { format: Format::Identifier, in_key: false };
    let mut warnings: Vec<Warning> = text::check(type_name, kind, &ctx.budget)
        .into_iter()
        .map(|w| w.at(Some(index), Some("/type".to_owned())))
        .collect();
    let map = detail.as_map();
    let entry = registry.lookup(type_name);
    let mut valid = true;
    if let Some(entry) = entry {
        for v in entry.violations(index, detail) {
            valid = false;
            let mut message = Revealed::line("Does not match its schema at ");
            if v.path.is_empty() {
                message.push("the top level", Context::Line);
            } else {
                message.quote(&v.path, Context::Identifier);
            }
            message.push(": ", Context::Line).append(&v.message);
            warnings.push(
                Warning::quoting(WarningCode::SchemaViolation, Severity::Danger, message).at(Some(index), Some(v.path)),
            );
        }
    }
    let (renderer, fields, title, risk, icon) = match entry {
        Some(entry) => {
            let set = SchemaSet::root(&entry.schema);
            let (renderer, fields) = match Registry::layout(entry) {
                Layout::Auth0Guardian => (Renderer::Auth0Guardian, r.guardian(map, &set)),
                // Laid out by a schema of the registry: the signed hash covers it.
                Layout::McpToolCall => (Renderer::Schema, r.mcp_tool_call(map, &set)),
                Layout::Fields => (Renderer::Schema, r.object_fields(map, &set, "", true)),
            };
            (renderer, fields, title_of(entry, type_name), entry.root.risk, entry.root.icon.clone())
        }
        None => {
            warnings.push(
                Warning::new(
                    WarningCode::NoSchema,
                    Severity::Caution,
                    "No display schema for this type: shown as sent, field names as labels",
                )
                .at(Some(index), None),
            );
            let fields = r.object_fields(map, &SchemaSet::generic(), "", true);
            (Renderer::Generic, fields, Revealed::of(type_name, Context::Identifier), Risk::Unknown, None)
        }
    };
    let summary = entry.and_then(|e| e.root.summary.as_ref().map(|t| (e, t))).map(|(e, t)| {
        let (summary, missing) = fill_summary(&t.0, &fields, &e.schema);
        for path in missing {
            let mut message = Revealed::line("The summary names ");
            message.quote(&path, Context::Identifier).push(", which was not sent", Context::Line);
            warnings
                .push(Warning::quoting(WarningCode::MissingValue, Severity::Info, message).at(Some(index), Some(path)));
        }
        summary
    });
    let (title, title_characters) = title.into_parts();
    DetailView {
        index,
        type_name: type_name.to_owned(),
        renderer,
        schema_hash: entry.map_or_else(SchemaHash::of_no_schema, |e| e.hash.clone()),
        title,
        title_characters,
        summary,
        risk,
        icon,
        valid,
        fields,
        undescribed: r.undescribed,
        warnings,
    }
}

/// The characters to reveal in a description (a schema's help text or an
/// Auth0 entry's `description`): one line of prose, every control character
/// included.
fn description_characters(description: Option<&str>) -> Vec<crate::model::CharFinding> {
    description.map(|d| Revealed::line(d).into_parts().1).unwrap_or_default()
}

/// How a field got its label.
enum Label {
    /// A property the schema lists: label from the hints, else the key.
    Schema,
    /// Any other member: the key exactly as sent (checked).
    Key,
    /// An array item.
    Index(usize),
    /// Auth0 `name`, sent with the value (checked).
    Sender(String),
}

impl DetailRenderer<'_> {
    fn warn(&self, w: Warning, path: &str) -> Warning {
        w.at(Some(self.index), Some(path.to_owned()))
    }

    fn text_warnings(&self, s: &str, kind: TextKind, path: &str, out: &mut Vec<Warning>) {
        for w in text::check(s, kind, &self.ctx.budget) {
            out.push(self.warn(w, path));
        }
    }

    /// The fields of an object: listed properties in schema order, then the
    /// other members in the order sent; undescribed ones go to
    /// `self.undescribed`.
    fn object_fields(&mut self, map: &Map<String, Value>, set: &SchemaSet<'_>, path: &str, root: bool) -> Vec<Field> {
        let mut fields = Vec::new();
        let skip = |k: &str| root && k == "type";
        if set.is_generic() {
            for (k, v) in map {
                if !skip(k) {
                    fields.push(self.field(k, v, &SchemaSet::generic(), &join(path, k), Label::Key));
                }
            }
            return fields;
        }
        let names = set.property_names();
        for name in &names {
            if skip(name) {
                continue;
            }
            if let (Some(v), Some(child)) = (map.get(*name), set.property(name)) {
                fields.push(self.field(name, v, &child, &join(path, name), Label::Schema));
            }
        }
        for (k, v) in map {
            if skip(k) || names.contains(&k.as_str()) {
                continue;
            }
            let p = join(path, k);
            match set.property(k) {
                Some(child) => fields.push(self.field(k, v, &child, &p, Label::Key)),
                None => self.push_undescribed(k, v, &p),
            }
        }
        fields
    }

    fn push_undescribed(&mut self, key: &str, value: &Value, path: &str) {
        let mut f = self.field(key, value, &SchemaSet::generic(), path, Label::Key);
        let mut message = Revealed::line("Not described by the schema: ");
        message.quote(path, Context::Identifier);
        f.warnings
            .insert(0, self.warn(Warning::quoting(WarningCode::UndescribedField, Severity::Caution, message), path));
        self.undescribed.push(f);
    }

    fn field(&mut self, key: &str, value: &Value, set: &SchemaSet<'_>, path: &str, label: Label) -> Field {
        let hints = set.hints();
        let format = hints.format.unwrap_or(Format::Text);
        let mut warnings = Vec::new();
        let (label, label_source) = match label {
            Label::Schema => match hints.label.clone() {
                Some(l) => (l, LabelSource::Schema),
                None => (key.to_owned(), LabelSource::Key),
            },
            Label::Key => {
                self.text_warnings(key, TextKind { format: Format::Identifier, in_key: true }, path, &mut warnings);
                (key.to_owned(), LabelSource::Key)
            }
            Label::Index(i) => (format!("#{}", i + 1), LabelSource::Index),
            Label::Sender(name) => {
                self.text_warnings(&name, TextKind { format: Format::Text, in_key: true }, path, &mut warnings);
                (name, LabelSource::Sender)
            }
        };
        // A schema's label is prose; a member name or a sender's label is
        // an identifier, as its warnings judged it.
        let label_context = if label_source == LabelSource::Schema { Context::Line } else { Context::Identifier };
        let label_characters = text::marks(&label, label_context, &self.ctx.marks);
        let path_characters = text::marks(path, Context::Identifier, &self.ctx.marks);
        let value = self.value(value, set, format, path, &mut warnings);
        let description_characters = description_characters(hints.description.as_deref());
        Field {
            path: path.to_owned(),
            key: key.to_owned(),
            label,
            label_source,
            label_characters,
            path_characters,
            format,
            value,
            emphasis: hints.emphasis,
            sensitive: hints.sensitive,
            collapsed: false,
            description: hints.description,
            description_characters,
            warnings,
        }
    }

    /// The `many_items` warning of a list of `n` items, when it has many.
    fn many_items(&self, n: usize, path: &str) -> Option<Warning> {
        (n > MANY_ITEMS).then(|| {
            self.warn(
                Warning::new(
                    WarningCode::ManyItems,
                    Severity::Caution,
                    format!("{n} items: every one is listed, review them all"),
                ),
                path,
            )
        })
    }

    fn invalid_format(&self, path: &str, message: String) -> Warning {
        self.warn(Warning::new(WarningCode::InvalidFormat, Severity::Caution, message), path)
    }

    fn value(
        &mut self,
        value: &Value,
        set: &SchemaSet<'_>,
        format: Format,
        path: &str,
        warnings: &mut Vec<Warning>,
    ) -> FieldValue {
        let scalar = |json_type, text: String, display: Option<String>, utc: Option<String>| {
            let wrap = text.len() > WRAP_CHARS && text.chars().count() > WRAP_CHARS || text.contains('\n');
            FieldValue::Scalar { json_type, text, display, utc, wrap }
        };
        match value {
            Value::String(s) => {
                self.text_warnings(s, TextKind { format, in_key: false }, path, warnings);
                let locale = self.ctx.locale;
                let (display, utc, problem) = match format {
                    Format::DateTime => match format::date_time(s, locale, self.ctx.offset_minutes) {
                        Some((local, utc)) => (Some(local), Some(utc), None),
                        None => (None, None, Some("is not an RFC 3339 date-time; shown as written")),
                    },
                    Format::Date => match format::date(s, locale) {
                        Some(d) => (Some(d), None, None),
                        None => (None, None, Some("is not a date (YYYY-MM-DD); shown as written")),
                    },
                    Format::Duration => match format::duration(s, locale) {
                        Some(d) => (Some(d), None, None),
                        None => (None, None, Some("is not an ISO 8601 duration; shown as written")),
                    },
                    Format::Percent => match format::percent(s, locale) {
                        Some(d) => (Some(d), None, None),
                        None => (None, None, Some("is not a decimal number; shown as written")),
                    },
                    Format::Money => (None, None, Some("is not an amount object {amount, currency}; shown as written")),
                    _ => (None, None, None),
                };
                if let Some(problem) = problem {
                    warnings.push(self.invalid_format(path, format!("The value {problem}")));
                }
                scalar(JsonType::String, s.clone(), display, utc)
            }
            Value::Number(n) => {
                let text = number_text(n);
                let display =
                    match format {
                        Format::Percent => format::percent(&text, self.ctx.locale),
                        Format::Money => {
                            warnings.push(self.invalid_format(
                            path,
                            "Amounts must be decimal strings with a currency, not JSON numbers; shown as written"
                                .to_owned(),
                        ));
                            None
                        }
                        // Group long plain numbers (not identifiers, codes or
                        // years) to help reading; the text stays exact.
                        Format::Text if text.len() > 4 => {
                            format::group_decimal(&text, self.ctx.locale).filter(|g| g != &text)
                        }
                        _ => None,
                    };
                scalar(JsonType::Number, text, display, None)
            }
            Value::Bool(b) => scalar(JsonType::Boolean, b.to_string(), None, None),
            Value::Null => scalar(JsonType::Null, "null".to_owned(), None, None),
            Value::Array(items) => {
                if let Some(w) = self.many_items(items.len(), path) {
                    warnings.push(w);
                }
                let items = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let key = i.to_string();
                        let p = format!("{path}/{i}");
                        self.field(&key, item, &set.item(i), &p, Label::Index(i))
                    })
                    .collect();
                FieldValue::Array { items }
            }
            Value::Object(map) => {
                if format == Format::Money {
                    if let Some(money) = self.money(map, path, warnings) {
                        return money;
                    }
                    warnings.push(self.invalid_format(
                        path,
                        "Not an amount of the form {\"amount\": \"decimal\", \"currency\": \"XXX\"}; shown field by field"
                            .to_owned(),
                    ));
                }
                FieldValue::Object { fields: self.object_fields(map, set, path, false) }
            }
        }
    }

    fn money(&self, map: &Map<String, Value>, path: &str, warnings: &mut Vec<Warning>) -> Option<FieldValue> {
        if map.len() != 2 {
            return None;
        }
        let amount = map.get("amount")?.as_str()?;
        let currency = map.get("currency")?.as_str()?;
        let ascii = TextKind { format: Format::Currency, in_key: false };
        self.text_warnings(amount, ascii, &join(path, "amount"), warnings);
        self.text_warnings(currency, ascii, &join(path, "currency"), warnings);
        // Both parts must be ASCII. The grouped amount is generated from a
        // valid decimal (its separators are the locale's typography); an
        // amount that is not one is shown as sent.
        let ascii = Context::AsciiIdentifier;
        let mut text = Revealed::of(amount, ascii);
        text.push(" ", ascii).push(currency, ascii);
        let mut display = match format::group_decimal(amount, self.ctx.locale) {
            Some(grouped) => Revealed::line(&grouped),
            None => Revealed::of(amount, ascii),
        };
        display.push(" ", ascii).push(currency, ascii);
        let (text, characters) = text.into_parts();
        let (display, display_characters) = display.into_parts();
        Some(FieldValue::Money {
            amount: amount.to_owned(),
            currency: currency.to_owned(),
            text,
            display,
            characters,
            display_characters,
        })
    }
}
