//! A small SVG writer for the timeline. Hand-written rather than through plotters because a
//! 20 x 220 run has thousands of bars: they are merged into one `<path>` per (lane, colour)
//! with relative moves, which keeps the file a few hundred KB and fast to draw, and each lane
//! gets a `<title>` tooltip in the browser.

use std::collections::BTreeMap;
use std::fmt::Write;

/// Escapes text for XML/HTML content and attribute values.
pub fn escape(s: &str) -> String {
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

/// Rectangles collected per (group, fill colour), written as one path each. A rectangle
/// that touches the previous one of its group and colour (same band, within half a pixel)
/// extends it instead: a lockstep trace of 250 000 steps draws as a few thousand rectangles.
#[derive(Default)]
pub struct Rects {
    paths: BTreeMap<(usize, &'static str), String>,
    pending: BTreeMap<(usize, &'static str), [f64; 4]>,
}

fn push_rect(d: &mut String, [x, y, w, h]: [f64; 4]) {
    let _ = write!(d, "M{x:.1} {y:.1}h{w:.2}v{h:.1}h{:.2}z", -w);
}

impl Rects {
    /// Adds a rectangle in pixels; widths below 0.6 px are widened so that a short
    /// transaction still shows as a hairline.
    pub fn add(&mut self, group: usize, fill: &'static str, x: f64, y: f64, w: f64, h: f64) {
        let w = w.max(0.6);
        let key = (group, fill);
        if let Some(p) = self.pending.get_mut(&key) {
            let same_band = (p[1] - y).abs() < 0.05 && (p[3] - h).abs() < 0.05;
            if same_band && x >= p[0] - 0.5 && x <= p[0] + p[2] + 0.5 {
                p[2] = (x + w).max(p[0] + p[2]) - p[0];
                return;
            }
            let done = *p;
            *p = [x, y, w, h];
            push_rect(self.paths.entry(key).or_default(), done);
        } else {
            self.pending.insert(key, [x, y, w, h]);
        }
    }

    /// Writes the paths, those filled with a colour in `under` first (drawn beneath).
    pub fn write_into(mut self, svg: &mut String, under: &[&str]) {
        for (key, r) in std::mem::take(&mut self.pending) {
            push_rect(self.paths.entry(key).or_default(), r);
        }
        for pass in [true, false] {
            for ((_, fill), d) in &self.paths {
                if under.contains(fill) == pass {
                    let _ = writeln!(svg, r#"<path fill="{fill}" d="{d}"/>"#);
                }
            }
        }
    }
}

pub fn text(svg: &mut String, x: f64, y: f64, size: u32, anchor: &str, body: &str) {
    let _ = writeln!(
        svg,
        r#"<text x="{x:.1}" y="{y:.1}" font-size="{size}" text-anchor="{anchor}">{}</text>"#,
        escape(body)
    );
}

pub fn line(svg: &mut String, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str, extra: &str) {
    let _ = writeln!(
        svg,
        r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{stroke}" {extra}/>"#
    );
}

/// A "nice" tick step for an axis spanning `span` with about `target` ticks.
pub fn nice_step(span: f64, target: f64) -> f64 {
    if span <= 0.0 || !span.is_finite() {
        return 1.0;
    }
    let raw = span / target;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let m = if norm < 1.5 {
        1.0
    } else if norm < 3.5 {
        2.0
    } else if norm < 7.5 {
        5.0
    } else {
        10.0
    };
    m * mag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn touching_rectangles_merge() {
        let mut r = Rects::default();
        r.add(0, "#000", 10.0, 5.0, 1.0, 4.0);
        r.add(0, "#000", 11.2, 5.0, 1.0, 4.0);
        r.add(0, "#000", 30.0, 5.0, 1.0, 4.0);
        r.add(0, "#000", 31.0, 6.0, 1.0, 2.0);
        let mut svg = String::new();
        r.write_into(&mut svg, &[]);
        assert_eq!(svg.matches('M').count(), 3, "{svg}");
        assert!(svg.contains("M10.0 5.0h2.20"), "{svg}");
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(2500.0, 10.0), 200.0);
        assert_eq!(nice_step(10.0, 10.0), 1.0);
        assert_eq!(nice_step(0.0, 10.0), 1.0);
    }
}
