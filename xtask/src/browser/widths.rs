//! No sideways scrolling: every table, listing and figure fits the text column.
//!
//! mdBook's text column is `--content-max-width` (920 px here, theme/figures.css) on a desktop
//! window. A `<pre>` wider than the column scrolls sideways and hides its right-hand columns;
//! a table or an inline SVG wider than it sticks out. The browser check loads every page at
//! [`VIEWPORT`] and runs [`MEASURE`] on it: the column's left edge and width (the content box
//! of `<main>`), and for each table, `<pre>` (listings, output tables, Mermaid diagrams), `<img>`
//! and inline `<svg>` in it, its left edge and the width it needs (its box plus whatever it or
//! a scrolling element inside it hides). [`too_wide`] judges the numbers.
//!
//! [`self_test`] proves the judgement in the browser on a planted page ([`FIXTURE`]): a wide
//! listing, table, SVG and image must be reported and their narrow twins must not.

use serde_json::Value;

/// The desktop window the browser check uses (CSS px): mdBook shows its sidebar at this width
/// and the text column has its full 920 px.
pub const VIEWPORT: (u32, u32) = (1440, 900);

/// A JavaScript function expression: `{ column: {left, width}, elements: [{what, left, width}] }`.
pub const MEASURE: &str = r#"(() => {
  const main = document.querySelector('main');
  if (!main) return { column: null, elements: [] };
  const px = (s) => parseFloat(s) || 0;
  const cs = getComputedStyle(main);
  const box = main.getBoundingClientRect();
  const column = {
    left: box.left + px(cs.borderLeftWidth) + px(cs.paddingLeft),
    width: main.clientWidth - px(cs.paddingLeft) - px(cs.paddingRight),
  };
  // What an element hides: the widest horizontal overflow of it or of an HTML element in it.
  const hidden = (el) => {
    let most = 0, by = '';
    for (const d of [el, ...el.querySelectorAll('*')]) {
      if (!(d instanceof HTMLElement)) continue;
      const style = getComputedStyle(d);
      // ACE's font-measuring node is invisible (256 characters wide, off-screen).
      if (style.overflowX === 'visible' || style.visibility === 'hidden') continue;
      if (d.scrollWidth - d.clientWidth > most) {
        most = d.scrollWidth - d.clientWidth;
        // A listing's own <code> scrolling is the listing scrolling: name only deeper ones.
        const own = d === el || (d.tagName === 'CODE' && d.parentElement === el);
        by = own ? '' : `${d.tagName.toLowerCase()}.${[...d.classList].join('.')}`;
      }
    }
    return { most, by };
  };
  const snippet = (s) => (s || '').replace(/\s+/g, ' ').trim().slice(0, 50);
  const counts = {};
  const elements = [];
  const skip = 'button, .buttons, .fa-svg, .ace_editor svg, pre.mermaid svg, svg svg, pre pre';
  for (const el of main.querySelectorAll('table, pre, img, svg')) {
    if (el.matches(skip)) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue; // not displayed
    const tag = el.tagName.toLowerCase();
    const kind = el.matches('pre.mermaid') ? 'Mermaid diagram'
      : tag === 'pre' && el.matches('pre.playground') ? 'runnable listing'
      : tag === 'pre' ? 'listing <pre>' : tag === 'img' ? 'figure <img>'
      : tag === 'svg' ? 'inline <svg>' : 'table';
    counts[kind] = (counts[kind] || 0) + 1;
    const text = tag === 'img' ? el.getAttribute('src')
      : tag === 'table' ? el.querySelector('th, td')?.textContent
      : kind === 'Mermaid diagram' ? ''
      : el.textContent;
    const h = hidden(el);
    const what = `${kind} ${counts[kind]}` + (snippet(text) ? ` ("${snippet(text)}")` : '')
      + (h.by && h.most > 0 ? ` (its ${h.by} scrolls ${Math.round(h.most)} px)` : '');
    elements.push({ what, left: r.left, width: r.width + h.most });
  }
  return { column, elements };
})"#;

/// The text column: left edge and width in CSS px.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Column {
    pub left: f64,
    pub width: f64,
}

/// One measured table, listing or figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub what: String,
    pub left: f64,
    /// The width it needs to show everything, in CSS px.
    pub width: f64,
}

/// Parses [`MEASURE`]'s result.
/// A page without `<main>` (toc.html, the sidebar's frame) has nothing to measure.
pub fn parse(v: &Value) -> Option<(Column, Vec<Measured>)> {
    let c = &v["column"];
    if c.is_null() && v["elements"].as_array().is_some_and(Vec::is_empty) {
        let none = Column {
            left: 0.0,
            width: 0.0,
        };
        return Some((none, Vec::new()));
    }
    let column = Column {
        left: c["left"].as_f64()?,
        width: c["width"].as_f64()?,
    };
    let elements = v["elements"]
        .as_array()?
        .iter()
        .filter_map(|e| {
            Some(Measured {
                what: e["what"].as_str()?.to_string(),
                left: e["left"].as_f64()?,
                width: e["width"].as_f64()?,
            })
        })
        .collect();
    Some((column, elements))
}

/// One message per element that ends to the right of the column (half a pixel of slack for
/// sub-pixel layout).
pub fn too_wide(column: Column, elements: &[Measured]) -> Vec<String> {
    let right = column.left + column.width;
    elements
        .iter()
        .filter(|e| e.left + e.width > right + 0.5)
        .map(|e| {
            format!(
                "{} is {:.0} px wide, {:.0} px past the right edge of the {:.0} px text column \
                 (window {}x{}); narrow it by layout (fewer or narrower columns, two tables, \
                 lines of at most 100 characters)",
                e.what,
                e.width,
                e.left + e.width - right,
                column.width,
                VIEWPORT.0,
                VIEWPORT.1
            )
        })
        .collect()
}

/// The width of the widest element, for the summary table.
pub fn widest(elements: &[Measured]) -> f64 {
    elements.iter().map(|e| e.width).fold(0.0, f64::max)
}

/// A planted page for [`self_test`]: mdBook's column (`main` of at most 920 px) holding a wide
/// and a narrow listing, table, inline SVG and image. Only the four `wide` ones may be reported.
pub const FIXTURE: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>sideways-scroll fixture</title>
<style>
  body { margin: 0; font: 16px sans-serif; }
  main { max-width: 920px; margin: 0 auto; padding: 0 15px; }
  pre { overflow-x: auto; font: 14px monospace; }
  .table-wrapper { overflow-x: auto; }
</style></head>
<body><main>
<pre>narrow listing: 80 columns ................................................</pre>
<pre>wide listing: 150 columns ............................................................................................................................</pre>
<div class="table-wrapper"><table><tr><th>narrow table</th><td>1</td></tr></table></div>
<div class="table-wrapper"><table><tr><th>wide table</th><td style="min-width: 1100px">1</td></tr></table></div>
<svg width="400" height="20"><text y="15">narrow svg</text></svg>
<svg width="1200" height="20"><text y="15">wide svg</text></svg>
<img alt="narrow" width="300" height="10" src="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='300' height='10'/%3E">
<img alt="wide" width="1000" height="10" src="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1000' height='10'/%3E">
</main></body></html>
"#;

/// Checks the fixture's report: exactly the four planted wide elements, by kind and order.
pub fn judge_fixture(column: Column, elements: &[Measured]) -> Result<(), String> {
    let reported = too_wide(column, elements);
    let expected = [
        "listing <pre> 2",
        "table 2",
        "inline <svg> 2",
        "figure <img> 2",
    ];
    let ok = elements.len() == 8
        && reported.len() == expected.len()
        && expected
            .iter()
            .zip(&reported)
            .all(|(e, r)| r.starts_with(&format!("{e} ")));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the sideways-scroll check misjudged its planted page: expected {expected:?} to be \
             reported among 8 elements, measured {elements:?} in {column:?}, reported {reported:?}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(what: &str, left: f64, width: f64) -> Measured {
        Measured {
            what: what.to_string(),
            left,
            width,
        }
    }

    const COLUMN: Column = Column {
        left: 410.0,
        width: 920.0,
    };

    #[test]
    fn an_element_within_the_column_passes() {
        let fits = [
            m("listing <pre> 1", 410.0, 920.0),
            m("table 1", 500.0, 830.0),
            m("figure <img> 1", 410.0, 920.4),
        ];
        assert!(too_wide(COLUMN, &fits).is_empty());
    }

    #[test]
    fn an_element_past_the_right_edge_is_reported_with_its_widths() {
        let planted = [
            m("listing <pre> 1", 410.0, 900.0),
            m("listing <pre> 2 (\"node  median  p99\")", 410.0, 1272.0),
            // Indented (in a list item): narrower than the column, but it still sticks out.
            m("table 1", 450.0, 900.0),
        ];
        let reported = too_wide(COLUMN, &planted);
        assert_eq!(reported.len(), 2, "{reported:?}");
        assert!(
            reported[0].starts_with(
                "listing <pre> 2 (\"node  median  p99\") is 1272 px wide, 352 px past the right \
                 edge of the 920 px text column (window 1440x900)"
            ),
            "{}",
            reported[0]
        );
        assert!(reported[1].starts_with("table 1 is 900 px wide, 20 px past"));
    }

    #[test]
    fn the_fixture_judgement_wants_exactly_the_planted_elements() {
        let kinds = ["listing <pre>", "table", "inline <svg>", "figure <img>"];
        let mut measured = Vec::new();
        for k in kinds {
            measured.push(m(&format!("{k} 1"), 410.0, 400.0));
            measured.push(m(&format!("{k} 2"), 410.0, 1100.0));
        }
        assert_eq!(judge_fixture(COLUMN, &measured), Ok(()));
        // A check that reports nothing (or everything) fails its self-test.
        let all_narrow: Vec<_> = measured.iter().map(|e| m(&e.what, 410.0, 400.0)).collect();
        assert!(judge_fixture(COLUMN, &all_narrow).is_err());
        let all_wide: Vec<_> = measured.iter().map(|e| m(&e.what, 410.0, 1100.0)).collect();
        assert!(judge_fixture(COLUMN, &all_wide).is_err());
    }
}
