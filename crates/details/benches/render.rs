//! Render time, without criterion: a small std-only harness that reports
//! min, median, p99 and max over many iterations.
//!
//! cargo bench -p countersign-details --bench render [-- largest]
//!
//! Cases (figures in docs/performance.md, "Display schema rendering"):
//! - typical: 10 details × 20 described fields (money, dates, durations,
//!   emails, lists…), validated and rendered;
//! - largest allowed: 16 details (`MAX_DETAILS`) filling the node and text
//!   limits (just under `MAX_NODES`, `MAX_TEXT_BYTES`; arrays at
//!   `MAX_ARRAY_ITEMS`), once with plain text and once with every string
//!   non-ASCII with lookalikes, bidi and zero-width characters, so every
//!   check runs and warns (the adversarial worst case).

use countersign_details::limits::{MAX_ARRAY_ITEMS, MAX_DETAILS, MAX_NODES, MAX_TEXT_BYTES};
use countersign_details::{render, render_param, Registry, RenderOptions, RequestStatus, BUILTIN_SCHEMAS};
use countersign_protocol::rar::AuthorizationDetails;
use serde_json::{json, Value};
use std::hint::black_box;
use std::time::{Duration, Instant};

const TYPE: &str = "urn:countersign:bench:twenty";

fn bench_schema() -> Value {
    let p = |label: &str, schema: Value, format: &str| {
        let mut s = schema;
        s["x-countersign"] = json!({"label": label, "format": format});
        s
    };
    let s = |label: &str, format: &str| p(label, json!({"type": "string"}), format);
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": TYPE,
        "type": "object",
        "x-countersign": {"title": "Twenty fields", "risk": "high", "summary": "{f01} pays {f04} to {f02} on {f05}"},
        "required": ["type", "f01", "f02", "f04"],
        "additionalProperties": false,
        "properties": {
            "type": {"const": TYPE},
            "f01": s("Text", "text"),
            "f02": p("Email", json!({"type": "string", "format": "email"}), "email"),
            "f03": p("URL", json!({"type": "string", "format": "uri"}), "url"),
            "f04": p("Amount", json!({"$ref": "#/$defs/money"}), "money"),
            "f05": p("When", json!({"type": "string", "format": "date-time"}), "date-time"),
            "f06": p("For", json!({"type": "string", "format": "duration"}), "duration"),
            "f07": p("Day", json!({"type": "string", "format": "date"}), "date"),
            "f08": p("IBAN", json!({"type": "string", "pattern": "^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$"}), "iban"),
            "f09": p("Symbol", json!({"type": "string", "pattern": "^[A-Z.]{1,12}$"}), "ticker"),
            "f10": s("Rate", "percent"),
            "f11": s("Path", "path"),
            "f12": s("Code", "code"),
            "f13": p("Count", json!({"type": "integer"}), "text"),
            "f14": p("Flag", json!({"type": "boolean"}), "text"),
            "f15": s("Account", "account"),
            "f16": s("Notes", "multiline-text"),
            "f17": p("List", json!({"type": "array", "maxItems": MAX_ARRAY_ITEMS, "items": {"type": "string"}}), "text"),
            "f18": p("Nested", json!({"type": "object", "properties": {
                "a": {"type": "string", "x-countersign": {"label": "A"}},
                "b": {"type": "integer", "x-countersign": {"label": "B"}}}}), "text"),
            "f19": s("Id", "identifier"),
            "f20": s("Currency", "currency")
        },
        "$defs": {"money": {"type": "object", "required": ["amount", "currency"], "additionalProperties": false,
            "x-countersign": {"format": "money"},
            "properties": {"amount": {"type": "string", "pattern": "^(0|[1-9][0-9]*)(\\.[0-9]+)?$"},
                           "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}}}}
    })
}

fn detail(i: usize, list: Vec<String>, f01: String) -> Value {
    json!({
        "type": TYPE,
        "f01": f01,
        "f02": format!("user{i}@example.com"),
        "f03": "https://shop.example.com/orders/12345",
        "f04": {"amount": "1234567.89", "currency": "EUR"},
        "f05": "2026-03-05T14:00:00+01:00",
        "f06": "P1DT2H30M",
        "f07": "2026-03-05",
        "f08": "DE02100100109307118603",
        "f09": "BRK.B",
        "f10": "12.5",
        "f11": "/home/erika/projects/countersign/Cargo.toml",
        "f12": "SELECT id, name FROM customers\nWHERE id = $1;",
        "f13": 48213,
        "f14": true,
        "f15": "U1234567",
        "f16": "Line one\nLine two\n\tindented",
        "f17": list,
        "f18": {"a": "nested value", "b": 42},
        "f19": format!("order-{i}"),
        "f20": "USD"
    })
}

fn typical() -> AuthorizationDetails {
    let details: Vec<Value> = (0..10)
        .map(|i| detail(i, vec!["first".into(), "second".into(), "third".into()], format!("Agent {i}")))
        .collect();
    AuthorizationDetails::from_value(Value::Array(details)).expect("typical request")
}

/// As large as the limits allow; `hostile` text takes every slow path (and
/// gets warnings), plain text is printable ASCII.
fn largest(hostile: bool) -> AuthorizationDetails {
    // Nodes per detail: the detail, 20 members, 2 money members, 2 nested
    // members, and the list items.
    let fixed_nodes = 1 + 20 + 2 + 2;
    let items = ((MAX_NODES - 1) / MAX_DETAILS - fixed_nodes).min(MAX_ARRAY_ITEMS);
    // Text bytes per detail, spread over the list items.
    let fixed_text = 600;
    let per_item = (MAX_TEXT_BYTES / MAX_DETAILS - fixed_text) / items;
    // Latin with a Cyrillic 'а', a bidi isolate, a zero-width space.
    let unit =
        if hostile { "p\u{0430}yment \u{2067}note\u{2069} to\u{200B} Müller " } else { "payment note to Mueller " };
    let mut s = String::new();
    while s.len() + unit.len() <= per_item {
        s.push_str(unit);
    }
    let list: Vec<String> = (0..items).map(|_| s.clone()).collect();
    let details: Vec<Value> = (0..MAX_DETAILS).map(|i| detail(i, list.clone(), s.clone())).collect();
    AuthorizationDetails::from_value(Value::Array(details)).expect("largest request")
}

struct Stats {
    min: Duration,
    median: Duration,
    p99: Duration,
    max: Duration,
}

fn measure(iterations: usize, mut f: impl FnMut()) -> Stats {
    for _ in 0..iterations / 10 + 1 {
        f();
    }
    let mut times: Vec<Duration> = (0..iterations)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort_unstable();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Stats { min: times[0], median: at(0.5), p99: at(0.99), max: times[times.len() - 1] }
}

fn report(name: &str, iterations: usize, s: &Stats) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{name:<44} n={iterations:<5} min {:>7.3} ms  median {:>7.3} ms  p99 {:>7.3} ms  max {:>7.3} ms",
        ms(s.min),
        ms(s.median),
        ms(s.p99),
        ms(s.max)
    );
}

/// Measures `f` over `iterations` runs and prints the figures as `name`.
fn time(name: &str, iterations: usize, f: impl FnMut()) {
    report(name, iterations, &measure(iterations, f));
}

fn main() {
    // `cargo test --benches` runs this with --bench absent: do one quick pass.
    let quick = !std::env::args().any(|a| a == "--bench");
    let mut docs: Vec<Value> =
        BUILTIN_SCHEMAS.iter().map(|(_, text)| serde_json::from_str(text).expect("built-in schema")).collect();
    docs.push(bench_schema());
    let registry = Registry::from_documents(docs).expect("registry");
    let options = RenderOptions { locale: "en-GB".to_owned(), utc_offset_minutes: 60 };

    // An argument other than --bench filters cases by name (e.g. `largest`).
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let cases = [
        ("typical: 10 details x 20 fields", typical(), 2000),
        ("largest allowed request, plain text", largest(false), 300),
        ("largest allowed request, hostile text", largest(true), 300),
    ];
    for (name, details, iterations) in cases {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let iterations = if quick { 1 } else { iterations };
        let model = render(&details, &registry, &options);
        assert_ne!(model.status, RequestStatus::Refused, "{name}: {:?}", model.warnings);
        let json = serde_json::to_string(&model).expect("serialize");
        let param = details.to_param();
        println!(
            "{name}: {} details, {} bytes of JSON in, {} warnings, model {} bytes of JSON",
            details.len(),
            param.len(),
            model.warning_count,
            json.len()
        );
        time("  render (limits + validate + render)", iterations, || {
            black_box(render(black_box(&details), &registry, &options));
        });
        time("  validate only", iterations, || {
            let _ = black_box(registry.validate(black_box(&details)));
        });
        time("  render_param (strict parse + render)", iterations, || {
            black_box(render_param(black_box(&param), &registry, &options));
        });
        time("  render + serialize the model to JSON", iterations, || {
            let m = render(black_box(&details), &registry, &options);
            black_box(serde_json::to_string(&m).map(|s| s.len()).unwrap_or(0));
        });
    }
}
