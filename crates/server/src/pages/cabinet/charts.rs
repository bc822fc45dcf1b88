//! The dashboard's charts, drawn on the server as SVG: a browser shows them without any
//! script, and they print. Each has a `<title>` for screen readers; the page also lists the
//! same figures as text.

use std::fmt::Write;

/// Text for SVG content and attributes.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

// The text's size is cabinet.css's, in these units: about 14 on a wide screen, and 24 on a
// phone, where the chart is drawn at less than half its size (so the text stays readable).
// The margins leave room for the larger.
const W: f64 = 720.0;
const H: f64 = 240.0;
const LEFT: f64 = 8.0;
const BOTTOM: f64 = 34.0;
const TOP: f64 = 32.0;

/// Vertical bars, one per day: `(label, value, value shown)`; every fifth label is written,
/// and the last.
pub fn bars(title: &str, days: &[(String, i64, String)], max_label: &str) -> String {
    let max = days.iter().map(|d| d.1).max().unwrap_or(0).max(1) as f64;
    let n = days.len().max(1) as f64;
    let slot = (W - LEFT * 2.0) / n;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-labelledby="chart-volume-title" xmlns="http://www.w3.org/2000/svg"><title id="chart-volume-title">{}</title>"#,
        esc(title)
    );
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{LEFT}" y1="{y}" x2="{x2}" y2="{y}"/><text class="tick" x="{LEFT}" y="22">{}</text>"#,
        esc(max_label),
        y = H - BOTTOM,
        x2 = W - LEFT
    );
    for (i, (label, value, shown)) in days.iter().enumerate() {
        let h = (*value as f64 / max) * (H - BOTTOM - TOP);
        let x = LEFT + slot * i as f64 + slot * 0.15;
        let _ = write!(
            svg,
            r#"<rect class="bar" x="{x:.1}" y="{:.1}" width="{:.1}" height="{h:.1}"><title>{}: {}</title></rect>"#,
            H - BOTTOM - h,
            slot * 0.7,
            esc(label),
            esc(shown)
        );
        let last = i + 1 == days.len();
        // A fifth label too near the last one would run into it on a phone.
        if (i % 5 == 0 && i + 5 < days.len()) || last {
            // The first and the last label end at the chart's edges instead of being cut.
            let (lx, anchor) = match i {
                0 => (LEFT, "start"),
                _ if last => (W - LEFT, "end"),
                _ => (x + slot * 0.35, "middle"),
            };
            let _ = write!(
                svg,
                r#"<text class="tick" x="{lx:.1}" y="{}" text-anchor="{anchor}">{}</text>"#,
                H - 8.0,
                esc(label)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars, one per reason code: `(label, count)`, largest first. Each label is
/// written above its bar, across the whole width, so that a long reason is not cut by the
/// bar on a narrow screen.
pub fn hbars(title: &str, rows: &[(String, u64)]) -> String {
    let row_h = 56.0;
    let height = (rows.len().max(1) as f64) * row_h + 4.0;
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {W} {height}" role="img" aria-labelledby="chart-declines-title" xmlns="http://www.w3.org/2000/svg"><title id="chart-declines-title">{}</title>"#,
        esc(title)
    );
    for (i, (label, count)) in rows.iter().enumerate() {
        let y = 4.0 + row_h * i as f64;
        let w = (*count as f64 / max) * (W - 100.0);
        let shown: String = label.chars().take(40).collect();
        let _ = write!(
            svg,
            r#"<text class="label" x="0" y="{:.1}">{}</text><rect class="bar bad" x="0" y="{:.1}" width="{w:.1}" height="16"/><text class="tick" x="{:.1}" y="{:.1}">{count}</text>"#,
            y + 20.0,
            esc(&shown),
            y + 30.0,
            w + 8.0,
            y + 46.0
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_their_text_and_scale_to_the_largest_value() {
        let svg = bars(
            "Volume <30 days>",
            &[
                ("01.02".into(), 50, "50".into()),
                ("02.02".into(), 100, "100".into()),
            ],
            "100",
        );
        assert!(svg.contains("Volume &lt;30 days&gt;"));
        assert!(svg.contains(r#"height="174.0""#), "{svg}");
        let svg = hbars("Declines", &[("484 & co".into(), 3)]);
        assert!(svg.contains("484 &amp; co"));
    }
}
