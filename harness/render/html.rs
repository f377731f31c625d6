//! The HTML scaffolding every page shares: one document with inline CSS and inline SVG, no
//! scripts and no network resources, so it opens from a CI artifact as it is.

use std::fmt::Write;

pub use super::svg::escape;

const CSS: &str = r#"
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px;
       color: #1d1d1d; max-width: 1460px; }
h1 { font-size: 22px; margin: 0 0 6px 0; }
h2 { font-size: 17px; margin: 28px 0 8px 0; border-bottom: 1px solid #ddd; padding-bottom: 3px; }
.verdict { display: inline-block; padding: 3px 12px; border-radius: 4px; color: #fff;
           font-weight: bold; margin-right: 10px; }
.pass { background: #2e7d32; } .fail { background: #c62828; } .other { background: #6d6d6d; }
.meta { color: #555; font-size: 13px; }
ol.failures li { color: #b71c1c; margin: 4px 0; }
ol.liveness li { color: #8a4b00; margin: 4px 0; }
pre.cmd { background: #1e1e1e; color: #f0f0f0; padding: 8px 12px; border-radius: 4px;
          overflow-x: auto; font-size: 13px; }
pre.json { background: #f6f6f6; padding: 8px; font-size: 12px; overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { border: 1px solid #d8d8d8; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.bad, span.bad { color: #b71c1c; font-weight: bold; }
td.good { color: #2e7d32; }
.figure { overflow-x: auto; border: 1px solid #e3e3e3; margin: 8px 0; }
.note { color: #555; font-size: 13px; }
.ns { color: #8a4b00; font-size: 12px; }
"#;

/// A whole page.
pub fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

/// The verdict badge.
pub fn badge(word: &str) -> String {
    let class = match word {
        "PASS" => "pass",
        "FAIL" | "ERROR" => "fail",
        _ => "other",
    };
    format!(r#"<span class="verdict {class}">{}</span>"#, escape(word))
}

/// A table; cells are HTML already (escape text with [`escape`]); a cell starting with
/// `\u{1}` is right-aligned as a number (the marker is dropped).
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut t = String::from("<table>\n<tr>");
    for h in headers {
        let _ = write!(t, "<th>{}</th>", escape(h));
    }
    t.push_str("</tr>\n");
    for row in rows {
        t.push_str("<tr>");
        for cell in row {
            match cell.strip_prefix('\u{1}') {
                Some(n) => {
                    let _ = write!(t, r#"<td class="num">{n}</td>"#);
                }
                None => {
                    let _ = write!(t, "<td>{cell}</td>");
                }
            }
        }
        t.push_str("</tr>\n");
    }
    t.push_str("</table>\n");
    t
}

/// A number cell for [`table`].
pub fn num(v: impl std::fmt::Display) -> String {
    format!("\u{1}{v}")
}

/// An inline SVG figure (any XML declaration dropped).
pub fn figure(svg: &str) -> String {
    let body = match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    };
    format!("<div class=\"figure\">\n{body}</div>\n")
}

/// A list of items, escaped, with a class.
pub fn list(class: &str, items: &[String]) -> String {
    let mut s = format!("<ol class=\"{class}\">\n");
    for i in items {
        let _ = writeln!(s, "<li>{}</li>", escape(i));
    }
    s.push_str("</ol>\n");
    s
}
