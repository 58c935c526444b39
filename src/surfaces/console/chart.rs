//! Charts drawn by the server as SVG, so that they need no script and no inline style: bars for
//! a series of (label, value), and lines for several series over the same labels.

use std::fmt::Write;

/// Escapes text for SVG.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const W: f64 = 720.0;
const H: f64 = 240.0;
const LEFT: f64 = 64.0;
const BOTTOM: f64 = 40.0;
const TOP: f64 = 16.0;

/// A round top for the axis, at or above `max`.
fn nice(max: i64) -> i64 {
    if max <= 0 {
        return 1;
    }
    let mag = 10i64.pow((max as f64).log10().floor() as u32);
    for step in [1, 2, 5, 10] {
        if step * mag >= max {
            return step * mag;
        }
    }
    10 * mag
}

fn frame(out: &mut String, title: &str, top: i64, show: &dyn Fn(i64) -> String) {
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = esc(title)
    );
    for i in 0..=4 {
        let v = top * i / 4;
        let y = H - BOTTOM - (H - BOTTOM - TOP) * (i as f64) / 4.0;
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{W}" y2="{y:.1}" stroke="#e3e6ea"/><text x="{x:.1}" y="{ty:.1}" text-anchor="end" font-size="11" fill="#667">{v}</text>"##,
            x = LEFT - 6.0,
            ty = y + 4.0,
            v = esc(&show(v))
        );
    }
}

fn x_labels(out: &mut String, labels: &[&str], slot: f64) {
    let every = (labels.len() / 10).max(1);
    for (i, label) in labels.iter().enumerate() {
        if i % every != 0 {
            continue;
        }
        let x = LEFT + slot * (i as f64 + 0.5);
        let _ = write!(
            out,
            r##"<text x="{x:.1}" y="{y:.1}" text-anchor="middle" font-size="11" fill="#667">{l}</text>"##,
            y = H - BOTTOM + 16.0,
            l = esc(label)
        );
    }
}

/// Bars, one per (label, value); `show` writes a value for the axis and the hover titles.
pub fn bars(title: &str, points: &[(String, i64)], show: &dyn Fn(i64) -> String) -> String {
    let mut out = String::with_capacity(256 + points.len() * 200);
    let top = nice(points.iter().map(|(_, v)| *v).max().unwrap_or(0));
    frame(&mut out, title, top, show);
    let n = points.len().max(1) as f64;
    let slot = (W - LEFT) / n;
    for (i, (label, v)) in points.iter().enumerate() {
        let h = (H - BOTTOM - TOP) * (*v).max(0) as f64 / top as f64;
        let _ = write!(
            out,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="#2f6fdf"><title>{l}: {v}</title></rect>"##,
            x = LEFT + slot * i as f64 + slot * 0.15,
            y = H - BOTTOM - h,
            w = slot * 0.7,
            l = esc(label),
            v = esc(&show(*v))
        );
    }
    let labels: Vec<&str> = points.iter().map(|(l, _)| l.as_str()).collect();
    x_labels(&mut out, &labels, slot);
    out.push_str("</svg>");
    out
}

/// The colours of successive lines.
const COLOURS: [&str; 6] = [
    "#2f6fdf", "#e0672c", "#2a9d55", "#8e44ad", "#c0392b", "#7f8c8d",
];

/// Lines over shared labels: (series name, one value per label).
pub fn lines(
    title: &str,
    labels: &[String],
    series: &[(String, Vec<i64>)],
    show: &dyn Fn(i64) -> String,
) -> String {
    let mut out = String::with_capacity(512 + labels.len() * series.len() * 40);
    let top = nice(
        series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .max()
            .unwrap_or(0),
    );
    frame(&mut out, title, top, show);
    let slot = (W - LEFT) / labels.len().max(1) as f64;
    for (k, (name, values)) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let pts: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                format!(
                    "{:.1},{:.1}",
                    LEFT + slot * (i as f64 + 0.5),
                    H - BOTTOM - (H - BOTTOM - TOP) * (*v).max(0) as f64 / top as f64
                )
            })
            .collect();
        let _ = write!(
            out,
            r##"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"><title>{}</title></polyline>"##,
            pts.join(" "),
            esc(name)
        );
        let _ = write!(
            out,
            r##"<rect x="{x:.1}" y="{y:.1}" width="10" height="10" fill="{colour}"/><text x="{tx:.1}" y="{ty:.1}" font-size="11" fill="#333">{n}</text>"##,
            x = LEFT + 8.0 + 130.0 * k as f64,
            y = H - 14.0,
            tx = LEFT + 22.0 + 130.0 * k as f64,
            ty = H - 5.0,
            n = esc(name)
        );
    }
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    x_labels(&mut out, &labels, slot);
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_their_labels() {
        let svg = bars("t<", &[("<script>".into(), 5)], &|v| v.to_string());
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        let svg = lines("x", &["a".into()], &[("<b>".into(), vec![1])], &|v| {
            v.to_string()
        });
        assert!(svg.contains("&lt;b&gt;"));
        assert_eq!(nice(0), 1);
        assert_eq!(nice(7), 10);
        assert_eq!(nice(130), 200);
    }
}
