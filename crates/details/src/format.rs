//! Reading aids for the user's locale: dates and times, durations, digit
//! grouping. Each returns `None` when the input does not parse; the caller
//! then shows the value as written with a warning. Nothing here changes the
//! digits of a value: amounts keep their exact decimal string (only group
//! separators are added, and the decimal separator follows the locale).
//!
//! Locales: `en-US` (and any other `en`), `en-GB` (and `en-IE`, `en-AU`,
//! `en-NZ`, `en-IN`, `en-ZA`), `de`, `fr`; any other tag gets ISO 8601 style
//! dates and English words.

use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, UtcOffset, Weekday};

/// A supported locale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Locale {
    EnUs,
    EnGb,
    De,
    Fr,
    Iso,
}

impl Locale {
    pub(crate) fn parse(tag: &str) -> Self {
        let lower = tag.to_ascii_lowercase().replace('_', "-");
        let mut parts = lower.split('-');
        let language = parts.next().unwrap_or_default();
        let region = parts.find(|p| p.len() == 2).unwrap_or_default();
        match language {
            "en" if matches!(region, "gb" | "ie" | "au" | "nz" | "in" | "za") => Self::EnGb,
            "en" => Self::EnUs,
            "de" => Self::De,
            "fr" => Self::Fr,
            _ => Self::Iso,
        }
    }

    fn group_separator(self) -> &'static str {
        match self {
            Self::EnUs | Self::EnGb => ",",
            Self::De => ".",
            // U+202F NARROW NO-BREAK SPACE is French typography; we use a
            // plain space so the reading aid never contains characters the
            // checks would flag.
            Self::Fr | Self::Iso => " ",
        }
    }

    fn decimal_separator(self) -> &'static str {
        match self {
            Self::De | Self::Fr => ",",
            _ => ".",
        }
    }
}

fn month_name(locale: Locale, month: Month) -> &'static str {
    let i = u8::from(month) as usize - 1;
    const EN: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const DE: [&str; 12] =
        ["Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez."];
    const FR: [&str; 12] =
        ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."];
    match locale {
        Locale::De => DE[i],
        Locale::Fr => FR[i],
        _ => EN[i],
    }
}

fn weekday_name(locale: Locale, day: Weekday) -> &'static str {
    let i = day.number_days_from_monday() as usize;
    const EN: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const DE: [&str; 7] = ["Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So."];
    const FR: [&str; 7] = ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."];
    match locale {
        Locale::De => DE[i],
        Locale::Fr => FR[i],
        _ => EN[i],
    }
}

fn date_text(locale: Locale, date: Date) -> String {
    let (y, m, d) = (date.year(), date.month(), date.day());
    let wd = weekday_name(locale, date.weekday());
    let mon = month_name(locale, m);
    match locale {
        Locale::EnUs => format!("{wd}, {mon} {d}, {y}"),
        Locale::EnGb => format!("{wd} {d} {mon} {y}"),
        Locale::De => format!("{wd}, {d}. {mon} {y}"),
        Locale::Fr => format!("{wd} {d} {mon} {y}"),
        Locale::Iso => format!("{y:04}-{:02}-{d:02} ({wd})", u8::from(m)),
    }
}

fn seconds_text(locale: Locale, second: u8, nanos: u32) -> String {
    if second == 0 && nanos == 0 {
        return String::new();
    }
    let mut s = format!(":{second:02}");
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push_str(locale.decimal_separator());
        s.push_str(frac.trim_end_matches('0'));
    }
    s
}

fn time_text(locale: Locale, dt: OffsetDateTime) -> String {
    let (h, m) = (dt.hour(), dt.minute());
    let secs = seconds_text(locale, dt.second(), dt.nanosecond());
    match locale {
        Locale::EnUs => {
            let (h12, ampm) = match h {
                0 => (12, "AM"),
                1..=11 => (h, "AM"),
                12 => (12, "PM"),
                _ => (h - 12, "PM"),
            };
            format!("{h12}:{m:02}{secs} {ampm}")
        }
        _ => format!("{h:02}:{m:02}{secs}"),
    }
}

fn offset_text(offset: UtcOffset) -> String {
    if offset.is_utc() {
        return "UTC".to_owned();
    }
    let total = offset.whole_minutes();
    let sign = if total < 0 { '-' } else { '+' };
    let abs = total.unsigned_abs();
    format!("UTC{sign}{:02}:{:02}", abs / 60, abs % 60)
}

fn date_time_text(locale: Locale, dt: OffsetDateTime) -> String {
    let sep = match locale {
        Locale::Fr => " à ",
        Locale::Iso => " ",
        _ => ", ",
    };
    format!("{}{sep}{} {}", date_text(locale, dt.date()), time_text(locale, dt), offset_text(dt.offset()))
}

/// An RFC 3339 date-time as `(local, utc)` texts.
pub(crate) fn date_time(s: &str, locale: Locale, offset_minutes: i32) -> Option<(String, String)> {
    let dt = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    let offset = UtcOffset::from_whole_seconds(offset_minutes.checked_mul(60)?).ok()?;
    let local = dt.checked_to_offset(offset)?;
    let utc = dt.checked_to_offset(UtcOffset::UTC)?;
    Some((date_time_text(locale, local), date_time_text(locale, utc)))
}

/// An RFC 3339 full-date (`2026-03-05`).
pub(crate) fn date(s: &str, locale: Locale) -> Option<String> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    let month = Month::try_from(u8::try_from(num(5..7)?).ok()?).ok()?;
    let day = u8::try_from(num(8..10)?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    Some(date_text(locale, date))
}

/// The place of an ISO 8601 duration unit, 1 (years) to 7 (seconds); `M` is
/// months before `T` and minutes after it. `None` for a unit out of place.
fn unit_rank(unit: char, in_time: bool) -> Option<u8> {
    match (unit, in_time) {
        ('Y', false) => Some(1),
        ('M', false) => Some(2),
        ('W', false) => Some(3),
        ('D', false) => Some(4),
        ('H', true) => Some(5),
        ('M', true) => Some(6),
        ('S', true) => Some(7),
        _ => None,
    }
}

/// The words of the unit of `rank` ([`unit_rank`]).
fn unit_words(locale: Locale, rank: u8, one: bool) -> &'static str {
    let i = usize::from(rank.clamp(1, 7) - 1);
    const EN: [(&str, &str); 7] = [
        ("year", "years"),
        ("month", "months"),
        ("week", "weeks"),
        ("day", "days"),
        ("hour", "hours"),
        ("minute", "minutes"),
        ("second", "seconds"),
    ];
    const DE: [(&str, &str); 7] = [
        ("Jahr", "Jahre"),
        ("Monat", "Monate"),
        ("Woche", "Wochen"),
        ("Tag", "Tage"),
        ("Stunde", "Stunden"),
        ("Minute", "Minuten"),
        ("Sekunde", "Sekunden"),
    ];
    const FR: [(&str, &str); 7] = [
        ("an", "ans"),
        ("mois", "mois"),
        ("semaine", "semaines"),
        ("jour", "jours"),
        ("heure", "heures"),
        ("minute", "minutes"),
        ("seconde", "secondes"),
    ];
    let table = match locale {
        Locale::De => &DE,
        Locale::Fr => &FR,
        _ => &EN,
    };
    if one {
        table[i].0
    } else {
        table[i].1
    }
}

/// An ISO 8601 duration (`P1DT2H30M`, `PT15M`, `P2W`, `PT0.5S`) in words. The
/// numbers are kept as written.
pub(crate) fn duration(s: &str, locale: Locale) -> Option<String> {
    let rest = s.strip_prefix('P')?;
    if rest.is_empty() {
        return None;
    }
    let mut words = Vec::new();
    let mut in_time = false;
    let mut number = String::new();
    let mut last_rank = 0u8;
    let mut saw_fraction = false;
    let mut words_before_time = 0;
    for c in rest.chars() {
        match c {
            'T' if !in_time && number.is_empty() => {
                in_time = true;
                last_rank = 4;
                words_before_time = words.len();
            }
            '0'..='9' => number.push(c),
            '.' | ',' if !number.is_empty() && !number.contains(['.', ',']) => number.push(c),
            'Y' | 'M' | 'W' | 'D' | 'H' | 'S' => {
                if number.is_empty() || number.ends_with(['.', ',']) || saw_fraction {
                    return None;
                }
                let rank = unit_rank(c, in_time)?;
                if rank <= last_rank {
                    return None;
                }
                last_rank = rank;
                saw_fraction = number.contains(['.', ',']);
                let one = number.trim_start_matches('0') == "1";
                let shown = number.replace([',', '.'], locale.decimal_separator());
                words.push(format!("{shown} {}", unit_words(locale, rank, one)));
                number.clear();
            }
            _ => return None,
        }
    }
    if !number.is_empty() || words.is_empty() || (in_time && words.len() == words_before_time) {
        return None;
    }
    Some(words.join(" "))
}

/// Digit grouping for a plain decimal string (`-?digits(.digits)?`); `None`
/// for anything else.
pub(crate) fn group_decimal(s: &str, locale: Locale) -> Option<String> {
    let (sign, body) = match s.strip_prefix('-') {
        Some(b) => ("-", b),
        None => ("", s),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some(f) = frac {
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    let mut out = String::from(sign);
    let n = int.len();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (n - i) % 3 == 0 {
            out.push_str(locale.group_separator());
        }
        out.push(ch);
    }
    if let Some(f) = frac {
        out.push_str(locale.decimal_separator());
        out.push_str(f);
    }
    Some(out)
}

/// `12.5` → `12.5%` (en) or `12,5 %` (de, fr); the number as written.
pub(crate) fn percent(s: &str, locale: Locale) -> Option<String> {
    let grouped = group_decimal(s, locale)?;
    Some(match locale {
        Locale::EnUs | Locale::EnGb => format!("{grouped}%"),
        _ => format!("{grouped} %"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times_in_locales() {
        let s = "2026-03-05T13:30:00Z";
        let (local, utc) = date_time(s, Locale::EnUs, 60).unwrap();
        assert_eq!(local, "Thu, Mar 5, 2026, 2:30 PM UTC+01:00");
        assert_eq!(utc, "Thu, Mar 5, 2026, 1:30 PM UTC");
        assert_eq!(date_time(s, Locale::EnGb, 0).unwrap().0, "Thu 5 Mar 2026, 13:30 UTC");
        assert_eq!(date_time(s, Locale::De, -300).unwrap().0, "Do., 5. März 2026, 08:30 UTC-05:00");
        assert_eq!(date_time(s, Locale::Fr, 0).unwrap().0, "jeu. 5 mars 2026 à 13:30 UTC");
        assert_eq!(date_time(s, Locale::Iso, 330).unwrap().0, "2026-03-05 (Thu) 19:00 UTC+05:30");
        assert_eq!(
            date_time("2026-03-05T13:30:07.250+02:00", Locale::EnGb, 0).unwrap().0,
            "Thu 5 Mar 2026, 11:30:07.25 UTC"
        );
        assert_eq!(date_time("2026-13-05T13:30:00Z", Locale::EnUs, 0), None);
        assert_eq!(date_time("yesterday", Locale::EnUs, 0), None);
    }

    #[test]
    fn dates() {
        assert_eq!(date("2026-03-05", Locale::EnUs).as_deref(), Some("Thu, Mar 5, 2026"));
        assert_eq!(date("2026-02-30", Locale::EnUs), None);
        assert_eq!(date("2026-3-5", Locale::EnUs), None);
        assert_eq!(date("２026-03-05", Locale::EnUs), None);
    }

    #[test]
    fn durations() {
        assert_eq!(duration("P1DT2H30M", Locale::EnUs).as_deref(), Some("1 day 2 hours 30 minutes"));
        assert_eq!(duration("PT15M", Locale::De).as_deref(), Some("15 Minuten"));
        assert_eq!(duration("P2W", Locale::Fr).as_deref(), Some("2 semaines"));
        assert_eq!(duration("PT0.5S", Locale::EnUs).as_deref(), Some("0.5 seconds"));
        assert_eq!(duration("P1Y2M", Locale::EnUs).as_deref(), Some("1 year 2 months"));
        for bad in ["P", "PT", "1D", "P1H", "PT1D", "P1M1Y", "P1.5DT1H", "P1D2", "P-1D", "P1DT"] {
            assert_eq!(duration(bad, Locale::EnUs), None, "{bad}");
        }
    }

    #[test]
    fn grouping_keeps_digits() {
        assert_eq!(group_decimal("1234567.50", Locale::EnUs).as_deref(), Some("1,234,567.50"));
        assert_eq!(group_decimal("1234567.50", Locale::De).as_deref(), Some("1.234.567,50"));
        assert_eq!(group_decimal("999", Locale::EnUs).as_deref(), Some("999"));
        assert_eq!(group_decimal("-1000", Locale::Fr).as_deref(), Some("-1 000"));
        assert_eq!(group_decimal("0.000000001", Locale::EnUs).as_deref(), Some("0.000000001"));
        assert_eq!(group_decimal("1e3", Locale::EnUs), None);
        assert_eq!(group_decimal("1.", Locale::EnUs), None);
        assert_eq!(percent("12.5", Locale::EnUs).as_deref(), Some("12.5%"));
        assert_eq!(percent("12.5", Locale::De).as_deref(), Some("12,5 %"));
    }

    #[test]
    fn locale_tags() {
        assert_eq!(Locale::parse("en-US"), Locale::EnUs);
        assert_eq!(Locale::parse("en_GB"), Locale::EnGb);
        assert_eq!(Locale::parse("de-CH"), Locale::De);
        assert_eq!(Locale::parse("fr"), Locale::Fr);
        assert_eq!(Locale::parse("ja-JP"), Locale::Iso);
        assert_eq!(Locale::parse(""), Locale::Iso);
    }
}
