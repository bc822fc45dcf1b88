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

const W: f64 = 720.0;
const H: f64 = 220.0;
const LEFT: f64 = 8.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 20.0;

/// Vertical bars, one per day: `(label, value, value shown)`; every fifth label is written.
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
        r#"<line class="axis" x1="{LEFT}" y1="{y}" x2="{x2}" y2="{y}"/><text class="tick" x="{LEFT}" y="12">{}</text>"#,
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
        if i % 5 == 0 || i + 1 == days.len() {
            let _ = write!(
                svg,
                r#"<text class="tick" x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
                x + slot * 0.35,
                H - 6.0,
                esc(label)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars, one per reason code: `(label, count)`, largest first.
pub fn hbars(title: &str, rows: &[(String, u64)]) -> String {
    let row_h = 26.0;
    let height = (rows.len().max(1) as f64) * row_h + 8.0;
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1) as f64;
    let label_w = 260.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {W} {height}" role="img" aria-labelledby="chart-declines-title" xmlns="http://www.w3.org/2000/svg"><title id="chart-declines-title">{}</title>"#,
        esc(title)
    );
    for (i, (label, count)) in rows.iter().enumerate() {
        let y = 4.0 + row_h * i as f64;
        let w = (*count as f64 / max) * (W - label_w - 70.0);
        let shown: String = label.chars().take(40).collect();
        let _ = write!(
            svg,
            r#"<text class="label" x="0" y="{:.1}">{}</text><rect class="bar bad" x="{label_w}" y="{:.1}" width="{w:.1}" height="{:.1}"/><text class="tick" x="{:.1}" y="{:.1}">{count}</text>"#,
            y + 16.0,
            esc(&shown),
            y + 3.0,
            row_h - 8.0,
            label_w + w + 6.0,
            y + 16.0
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
        assert!(svg.contains(r#"height="176.0""#), "{svg}");
        let svg = hbars("Declines", &[("484 & co".into(), 3)]);
        assert!(svg.contains("484 &amp; co"));
    }
}
