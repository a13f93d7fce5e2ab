//! Figures for the book: line and scatter charts as SVG text.
//!
//! Every figure in the book is drawn by this module from numbers an experiment computed, so a
//! figure can always be regenerated and compared byte for byte with the checked-in copy. We
//! use plotters' SVG backend without a font engine: text is emitted as SVG `<text>` and the
//! browser picks the font, so the file does not depend on the fonts of the machine that drew it.

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

pub use plotters::chart::SeriesLabelPosition;

/// A colour-blind-safe palette (Okabe and Ito, 2008), in the order series use it.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Points joined by a line.
    Line,
    /// Points only.
    Points,
    /// A dashed line, for a theoretical curve or a bound.
    Dashed,
}

/// One named series of (x, y) points.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
}

impl Series {
    /// A series drawn as a line.
    pub fn line(name: &str, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.to_string(),
            points,
            style: Style::Line,
        }
    }

    /// A series drawn as points.
    pub fn points(name: &str, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.to_string(),
            points,
            style: Style::Points,
        }
    }

    /// A series drawn as a dashed line.
    pub fn dashed(name: &str, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.to_string(),
            points,
            style: Style::Dashed,
        }
    }
}

/// A chart: title, labelled axes (units in the label), a legend, and its series.
#[derive(Clone, Debug)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Logarithmic x axis (all x must be positive).
    pub log_x: bool,
    /// Logarithmic y axis (all y must be positive).
    pub log_y: bool,
    /// Fixed axis ranges; computed from the data when `None`.
    pub x_range: Option<(f64, f64)>,
    pub y_range: Option<(f64, f64)>,
    /// Where the legend sits: pick the corner the data leaves empty.
    pub legend: SeriesLabelPosition,
    /// Label only these x values (for an integer quantity measured at a few points, such as
    /// cluster sizes 1, 2, 3, 5, 7); every x tick is labelled when `None`.
    pub x_ticks: Option<Vec<f64>>,
}

impl Chart {
    /// A linear chart with computed ranges.
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Chart {
        Chart {
            title: title.to_string(),
            x_label: x_label.to_string(),
            y_label: y_label.to_string(),
            series: Vec::new(),
            log_x: false,
            log_y: false,
            x_range: None,
            y_range: None,
            legend: SeriesLabelPosition::UpperLeft,
            x_ticks: None,
        }
    }

    /// Adds a series.
    pub fn with(mut self, series: Series) -> Chart {
        self.series.push(series);
        self
    }

    /// The chart as an SVG document, 800 by 500 pixels.
    pub fn to_svg(&self) -> String {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (800, 500)).into_drawing_area();
            root.fill(&WHITE)
                .expect("drawing into a string cannot fail");
            let (x0, x1) = self
                .x_range
                .unwrap_or_else(|| bounds(self.points().map(|p| p.0)));
            let (y0, y1) = self
                .y_range
                .unwrap_or_else(|| bounds(self.points().map(|p| p.1)));
            let (x0, x1, y0, y1) = (
                pad(x0, x1, self.log_x).0,
                pad(x0, x1, self.log_x).1,
                pad(y0, y1, self.log_y).0,
                pad(y0, y1, self.log_y).1,
            );
            // On a log axis plotters places its own ticks (1, 2, 5, 10, ...), which rarely
            // fall on listed values, so listed ticks become the axis's key points there.
            let log_ticks = self.x_ticks.clone().filter(|_| self.log_x);
            match (self.log_x, self.log_y, log_ticks) {
                (false, false, _) => self.draw(&root, x0..x1, y0..y1),
                (true, false, None) => self.draw(&root, (x0..x1).log_scale(), y0..y1),
                (true, false, Some(t)) => {
                    self.draw(&root, (x0..x1).log_scale().with_key_points(t), y0..y1)
                }
                (false, true, _) => self.draw(&root, x0..x1, (y0..y1).log_scale()),
                (true, true, None) => self.draw(&root, (x0..x1).log_scale(), (y0..y1).log_scale()),
                (true, true, Some(t)) => self.draw(
                    &root,
                    (x0..x1).log_scale().with_key_points(t),
                    (y0..y1).log_scale(),
                ),
            }
            root.present().expect("drawing into a string cannot fail");
        }
        svg
    }

    /// The label of x tick `v`: empty for a value that `x_ticks` does not list.
    fn x_tick_label(&self, v: f64) -> String {
        match &self.x_ticks {
            Some(ticks) if !ticks.iter().any(|t| (t - v).abs() < 1e-9) => String::new(),
            _ => tick_label(v),
        }
    }

    fn points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.series.iter().flat_map(|s| s.points.iter().copied())
    }

    fn draw<X, Y>(&self, root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>, x: X, y: Y)
    where
        X: AsRangedCoord<Value = f64>,
        Y: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(x, y)
            .expect("valid chart ranges");
        let x_format = |v: &f64| self.x_tick_label(*v);
        let y_format = |v: &f64| tick_label(*v);
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_label_formatter(&x_format)
            .y_label_formatter(&y_format)
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .light_line_style(RGBColor(235, 235, 235));
        if let Some(n) = x_label_count(self.x_ticks.as_deref()) {
            mesh.x_labels(n);
        }
        mesh.draw().expect("drawing into a string cannot fail");
        for (i, s) in self.series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let legend_color = color;
            let drawn = match s.style {
                Style::Line => chart.draw_series(LineSeries::new(
                    s.points.iter().copied(),
                    color.stroke_width(2),
                )),
                Style::Dashed => chart.draw_series(DashedLineSeries::new(
                    s.points.iter().copied(),
                    8,
                    5,
                    color.stroke_width(2),
                )),
                Style::Points => chart.draw_series(
                    s.points
                        .iter()
                        .map(|&(px, py)| Circle::new((px, py), 4, color.filled())),
                ),
            };
            drawn
                .expect("drawing into a string cannot fail")
                .label(&s.name)
                .legend(move |(lx, ly)| {
                    PathElement::new(vec![(lx, ly), (lx + 20, ly)], legend_color.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(180, 180, 180))
            .label_font(("sans-serif", 14))
            .position(self.legend.clone())
            .draw()
            .expect("drawing into a string cannot fail");
    }
}

/// A tick label as a reader writes the number: `50`, not `50.0`; `0.25`; `1e-5` for tiny ones.
fn tick_label(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    if v.abs() < 0.01 {
        return format!("{v:e}");
    }
    if v == v.round() && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// How many x ticks to ask plotters for when `x_ticks` lists integers: one per integer, so that
/// every listed value gets a tick. `None` keeps plotters' default.
fn x_label_count(ticks: Option<&[f64]>) -> Option<usize> {
    let ticks = ticks?;
    if !ticks.iter().all(|v| v.fract() == 0.0) {
        return None;
    }
    let (lo, hi) = bounds(ticks.iter().copied());
    Some(((hi - lo) as usize + 1).max(2))
}

/// The smallest and largest value, or (0, 1) for no values.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi { (0.0, 1.0) } else { (lo, hi) }
}

/// Widens a range by 5% (a factor on log axes) so points do not sit on the frame.
fn pad(lo: f64, hi: f64, log: bool) -> (f64, f64) {
    if log {
        let lo = lo.max(f64::MIN_POSITIVE);
        let hi = hi.max(lo * 10.0_f64.powf(0.1));
        (lo / 1.2, hi * 1.2)
    } else if (hi - lo).abs() < f64::EPSILON {
        (lo - 1.0, hi + 1.0)
    } else {
        let margin = (hi - lo) * 0.05;
        (lo - margin, hi + margin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_deterministic_svg_with_title_and_legend() {
        let chart = Chart::new("Title here", "x (ms)", "y (count)")
            .with(Series::line("first", vec![(0.0, 1.0), (1.0, 2.0)]))
            .with(Series::points("second", vec![(0.5, 1.5)]));
        let a = chart.to_svg();
        assert_eq!(a, chart.to_svg());
        assert!(a.starts_with("<svg"));
        for text in ["Title here", "x (ms)", "y (count)", "first", "second"] {
            assert!(a.contains(text), "missing {text}");
        }
    }

    #[test]
    fn tick_labels_drop_needless_zeros() {
        let labels: Vec<String> = [0.0, 50.0, 0.25, 1.5, 100.0, 0.001, -2.0, 0.1 + 0.2]
            .into_iter()
            .map(tick_label)
            .collect();
        assert_eq!(
            labels,
            ["0", "50", "0.25", "1.5", "100", "1e-3", "-2", "0.3"]
        );
    }

    #[test]
    fn listed_x_ticks_are_the_only_labelled_ones() {
        let mut chart = Chart::new("ticks", "servers", "y")
            .with(Series::line("a", vec![(1.0, 1.0), (3.0, 2.0), (7.0, 3.0)]));
        chart.x_ticks = Some(vec![1.0, 3.0, 7.0]);
        assert_eq!(chart.x_tick_label(3.0), "3");
        assert_eq!(chart.x_tick_label(4.0), "");
        assert!(chart.to_svg().contains("<svg"));
    }

    #[test]
    fn listed_x_ticks_label_a_log_axis() {
        let mut chart = Chart::new("ticks", "max-age (s)", "y").with(Series::line(
            "a",
            vec![(1.0, 1.0), (5.0, 2.0), (30.0, 3.0), (600.0, 4.0)],
        ));
        chart.log_x = true;
        chart.x_ticks = Some(vec![1.0, 5.0, 30.0, 600.0]);
        let svg: String = chart.to_svg().split_whitespace().collect();
        // plotters' own log ticks would be 1, 10, 100 (or 2, 5, 20, ...), never 30 and 600;
        // the y axis (1 to 4) has none of these labels.
        for label in [">5<", ">30<", ">600<"] {
            assert!(svg.contains(label), "no x label {label} in the SVG");
        }
    }

    #[test]
    fn log_axes_accept_positive_data() {
        let mut chart = Chart::new("log", "x", "y")
            .with(Series::dashed("d", vec![(1.0, 10.0), (100.0, 1000.0)]));
        chart.log_x = true;
        chart.log_y = true;
        assert!(chart.to_svg().contains("<svg"));
    }
}
