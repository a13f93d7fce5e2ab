//! `check-html`, and the small amount of HTML reading the checks need.
//!
//! A `{{#...}}` left in the built HTML means mdBook did not expand a directive (a typo in its
//! name, or an escaped one by mistake): the reader would see raw template syntax.

use crate::tools;
use crate::util::{self, Result};
use std::path::{Path, PathBuf};

pub fn check_html() -> Result {
    let site = tools::build()?;
    let pages = html_pages(&site);
    let mut problems = Vec::new();
    for page in &pages {
        let text = util::read(page)?;
        for (i, line) in text.lines().enumerate() {
            if let Some(at) = line.find("{{#") {
                let snippet: String = line[at..].chars().take(80).collect();
                problems.push(format!(
                    "{}:{}: unexpanded `{snippet}`",
                    util::rel(page),
                    i + 1
                ));
            }
        }
    }
    println!("check-html: {} pages in {}", pages.len(), util::rel(&site));
    util::report("check-html", &problems, "unexpanded directive(s)")
}

/// Every `.html` file of the built site, sorted.
pub fn html_pages(site: &Path) -> Vec<PathBuf> {
    util::files_under(site)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .collect()
}

/// The value of attribute `name` in a start tag such as `<code class="a b">`.
pub fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut search = 0;
    while let Some(off) = tag[search..].find(name) {
        let at = search + off;
        search = at + name.len();
        let before_ok = at > 0 && tag.as_bytes()[at - 1].is_ascii_whitespace();
        let rest = &tag[search..];
        if let Some(rest) = rest.strip_prefix("=\"").filter(|_| before_ok) {
            return rest.find('"').map(|end| &rest[..end]);
        }
    }
    None
}

/// The text content of an HTML fragment: tags dropped, character references decoded.
pub fn text_content(fragment: &str) -> String {
    let mut out = String::with_capacity(fragment.len());
    let mut rest = fragment;
    while let Some(lt) = rest.find('<') {
        decode_into(&rest[..lt], &mut out);
        match rest[lt..].find('>') {
            Some(gt) => rest = &rest[lt + gt + 1..],
            None => {
                rest = "";
            }
        }
    }
    decode_into(rest, &mut out);
    out
}

fn decode_into(s: &str, out: &mut String) {
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').filter(|&semi| semi <= 10).and_then(|semi| {
            let name = &rest[1..semi];
            let ch = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => {
                    let num = if let Some(hex) = name.strip_prefix("#x").or(name.strip_prefix("#X"))
                    {
                        u32::from_str_radix(hex, 16).ok()
                    } else {
                        name.strip_prefix('#').and_then(|d| d.parse().ok())
                    };
                    num.and_then(char::from_u32)
                }
            };
            ch.map(|c| (c, semi))
        });
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text() {
        assert_eq!(
            text_content(
                "<span class=\"boring\">fn main() {\n</span>a &lt; b &amp;&amp; c&#39;s &#x41;"
            ),
            "fn main() {\na < b && c's A"
        );
        assert_eq!(
            attr("<code class=\"language-rust edition2024\">", "class"),
            Some("language-rust edition2024")
        );
        assert_eq!(
            attr("<pre data-class=\"x\" class=\"y\">", "class"),
            Some("y")
        );
    }
}
