//! A history as text: one line per operation, with its interval drawn on a shared time axis.
//!
//! Linearizability is about how intervals overlap, which is hard to see in a list of numbers
//! and easy to see in a picture. [`render_history`] draws each operation as a bar `[====]`
//! from its call to its return, scaled so that the whole history spans [`BAR_WIDTH`] columns;
//! an operation whose outcome is unknown runs off the right edge (`[====>`). Operations are
//! listed by call time, so the picture reads top to bottom as the history unfolded.
//!
//! The scale is linear and coarse: two events closer than one column apart share a column, so
//! the bar shows the shape of the history and the interval printed beside it the exact times.

use super::explain::OpSummary;
use super::model::{Model, Operation};

/// The width of the time axis, in columns.
pub const BAR_WIDTH: usize = 40;

// ANCHOR: render_history
/// The history, one line per operation in call order: client, bar, description, interval.
pub fn render_history<M: Model>(model: &M, history: &[Operation<M::Input, M::Output>]) -> String {
    let start = history.iter().map(|op| op.call_ns).min().unwrap_or(0);
    let known_returns = history
        .iter()
        .filter(|op| op.output.is_some())
        .map(|op| op.return_ns);
    let calls = history.iter().map(|op| op.call_ns);
    let end = known_returns.chain(calls).max().unwrap_or(0);
    let span = (end - start).max(1);
    let column = |t: u64| -> usize {
        let t = t.clamp(start, end) - start;
        // u128: `t * (BAR_WIDTH - 1)` may overflow u64 for times near u64::MAX.
        (u128::from(t) * (BAR_WIDTH as u128 - 1) / u128::from(span)) as usize
    };
    let mut order: Vec<usize> = (0..history.len()).collect();
    order.sort_by_key(|&i| (history[i].call_ns, i));
    let mut out = String::new();
    for i in order {
        let op = &history[i];
        let summary = OpSummary::new(model, history, i);
        let from = column(op.call_ns).min(BAR_WIDTH - 2); // room for the closing bracket
        let mut bar = vec![' '; BAR_WIDTH];
        bar[from] = '[';
        match op.output {
            Some(_) => {
                let to = column(op.return_ns).max(from + 1).min(BAR_WIDTH - 1);
                bar[from + 1..to].fill('=');
                bar[to] = ']';
            }
            None => {
                bar[from + 1..].fill('=');
                bar[BAR_WIDTH - 1] = '>';
            }
        }
        let bar: String = bar.into_iter().collect();
        let (client, text, interval) = (op.client, &summary.text, summary.interval());
        out += &format!("client {client:<3} |{bar}| {text} {interval}\n");
    }
    out
}
// ANCHOR_END: render_history
