//! Charts drawn on the server as inline SVG (no script, so the pages' CSP
//! stays `default-src 'none'`): tokens issued per day, and beneath them the
//! requests refused by the rate limit (429), for the portal's app page and
//! the console's client page.
use std::fmt::Write;

use crate::registry::usage::{Day, DAY_SECS};

const WIDTH: f64 = 600.0;
const LEFT: f64 = 44.0;
const TOKENS_H: f64 = 120.0;
const LIMITED_TOP: f64 = 150.0;
const LIMITED_H: f64 = 40.0;
const HEIGHT: f64 = 215.0;

fn date(day: i64) -> String {
    chrono::DateTime::from_timestamp(day * DAY_SECS, 0).map(|d| d.format("%b %-d").to_string()).unwrap_or_default()
}

/// Bars of `value(d)` for every day, in a band `top`..`top + height`.
fn bars(svg: &mut String, days: &[Day], value: impl Fn(&Day) -> i64, top: f64, height: f64, fill: &str, what: &str) {
    let max = days.iter().map(&value).max().unwrap_or(0).max(1) as f64;
    let slot = (WIDTH - LEFT) / days.len().max(1) as f64;
    let _ = write!(svg, r##"<line x1="{LEFT}" y1="{y}" x2="{WIDTH}" y2="{y}" stroke="#c8ccd4"/>"##, y = top + height);
    let _ = write!(svg, r##"<text x="{x}" y="{y}" font-size="11" text-anchor="end" fill="#57606a">{max}</text>"##, x = LEFT - 6.0, y = top + 9.0, max = max as i64);
    let _ = write!(svg, r##"<text x="{x}" y="{y}" font-size="11" text-anchor="end" fill="#57606a">0</text>"##, x = LEFT - 6.0, y = top + height);
    for (i, d) in days.iter().enumerate() {
        let v = value(d);
        if v == 0 {
            continue;
        }
        let h = (v as f64 / max * height).max(1.0);
        let x = LEFT + i as f64 * slot + slot * 0.15;
        let _ = write!(
            svg,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{fill}"><title>{date}: {v} {what}</title></rect>"#,
            y = top + height - h,
            w = slot * 0.7,
            date = date(d.day),
        );
    }
}

/// The chart of `days` (oldest first), with a text alternative for screen readers.
pub fn daily(days: &[Day], id: &str) -> String {
    let tokens: i64 = days.iter().map(|d| d.tokens).sum();
    let limited: i64 = days.iter().map(|d| d.limited).sum();
    let summary = format!("Last {} days: {tokens} tokens issued, {limited} requests refused by the rate limit (429)", days.len());
    let mut svg = format!(
        r#"<svg class="chart" id="{id}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{id}-title"><title id="{id}-title">{summary}</title>"#
    );
    let _ = write!(svg, r##"<text x="{LEFT}" y="12" font-size="12" fill="#1f2328">Tokens issued per day</text>"##);
    bars(&mut svg, days, |d| d.tokens, 18.0, TOKENS_H - 18.0 + 12.0, "#0b5cd5", "tokens");
    let _ = write!(svg, r##"<text x="{LEFT}" y="{y}" font-size="12" fill="#1f2328">Refused by the rate limit (429)</text>"##, y = LIMITED_TOP - 6.0);
    bars(&mut svg, days, |d| d.limited, LIMITED_TOP, LIMITED_H, "#cf222e", "refused");
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        let y = HEIGHT - 4.0;
        let _ = write!(svg, r##"<text x="{LEFT}" y="{y}" font-size="11" fill="#57606a">{}</text>"##, date(first.day));
        let _ = write!(svg, r##"<text x="{WIDTH}" y="{y}" font-size="11" text-anchor="end" fill="#57606a">{}</text>"##, date(last.day));
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_busiest_day_and_say_what_they_show() {
        let days: Vec<Day> = (0..30).map(|i| Day { day: 20_000 + i, tokens: if i == 29 { 40 } else if i == 10 { 10 } else { 0 }, limited: if i == 29 { 3 } else { 0 } }).collect();
        let svg = daily(&days, "usage");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("Last 30 days: 50 tokens issued, 3 requests refused by the rate limit (429)"));
        // two token bars and one refusal bar; empty days draw nothing
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains(&format!("{}: 40 tokens", date(20_029))));
        assert!(svg.contains(&format!("{}: 3 refused", date(20_029))));
        // the busiest day is full height, a quarter of it a quarter
        let height = |what: &str| -> f64 {
            let at = svg.find(what).unwrap();
            let rect = &svg[svg[..at].rfind("<rect").unwrap()..at];
            rect.split("height=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap()
        };
        assert!((height(": 40 tokens") / height(": 10 tokens") - 4.0).abs() < 0.01);
        assert!(!svg.contains("<script"));
        assert_eq!(date(0), "Jan 1");
    }
}
