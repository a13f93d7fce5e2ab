//! Gossip (epidemic) dissemination of one rumor: push, pull and push-pull.
//!
//! Demers et al. ("Epidemic algorithms for replicated database maintenance", PODC 1987) named
//! the three ways two processes can exchange a rumor when one calls the other:
//!
//! - **push**: every informed process sends the rumor to `fanout` random peers each round;
//! - **pull**: every process asks `fanout` random peers each round, and an informed peer
//!   answers with the rumor (a process cannot know what it is missing, so everyone asks);
//! - **push-pull**: every process calls `fanout` random peers each round; an informed caller
//!   pushes, an uninformed one asks, and an informed callee answers an uninformed caller.
//!
//! Push is fast while few know the rumor and slow at the end, when most of its messages hit
//! processes that already know it; pull is the other way round; push-pull has both phases fast.
//! The experiment `ch11_gossip` measures rounds and messages until every process knows;
//! the chapter sets them next to the estimates of Pittel (1987) and Karp, Schindelhauer,
//! Shenker and Vöcking (FOCS 2000).
//!
//! Rounds are driven by each process's timer (every `round`); messages take much less than a
//! round, so a call and its answer complete within the round. No process ever stops: the
//! experiment stops the run when everyone is informed and counts what was sent until then
//! (termination rules, such as Demers' "lose interest after k useless pushes", are out of scope).

use std::collections::BTreeSet;
use std::time::Duration;

use rand::RngExt;

use crate::sim::{Ctx, NodeId, Process, Time, TimerId};

/// How processes exchange the rumor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Style {
    Push,
    Pull,
    PushPull,
}

impl Style {
    /// Every style, in the order the chapter shows them.
    pub const ALL: [Style; 3] = [Style::Push, Style::Pull, Style::PushPull];

    /// Its name in tables and legends.
    pub fn name(self) -> &'static str {
        match self {
            Style::Push => "push",
            Style::Pull => "pull",
            Style::PushPull => "push-pull",
        }
    }
}

/// What gossiping processes send each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GossipMsg {
    /// The rumor itself (a push, or the answer to a request).
    Rumor,
    /// "Send me the rumor if you know it."
    Request,
}

/// The round timer.
const ROUND: TimerId = TimerId(0);

/// One process of a gossip group of `n`.
#[derive(Clone, Debug)]
pub struct Gossiper {
    /// Push, pull or push-pull.
    style: Style,
    /// The group's size; members are `0..n`.
    n: usize,
    /// Peers called per round. Invariant: `1 <= fanout < n`.
    fanout: usize,
    /// The length of a round.
    round: Duration,
    /// When this process learnt the rumor (`Some(ZERO)` for its origin).
    pub informed_at: Option<Time>,
    /// Messages this process sent.
    pub sent: u64,
}

impl Gossiper {
    /// A process; `origin` is the one that knows the rumor at time zero.
    pub fn new(style: Style, n: usize, fanout: usize, round: Duration, origin: bool) -> Self {
        assert!(
            fanout >= 1 && fanout < n,
            "fanout {fanout} must be in 1..{n}"
        );
        Gossiper {
            style,
            n,
            fanout,
            round,
            informed_at: origin.then_some(Time::ZERO),
            sent: 0,
        }
    }

    /// `fanout` distinct random peers other than `me`.
    fn peers(&self, ctx: &mut Ctx<'_, GossipMsg>) -> BTreeSet<NodeId> {
        let me = ctx.id();
        let mut chosen = BTreeSet::new();
        while chosen.len() < self.fanout {
            let peer = NodeId(ctx.rng().random_range(0..self.n));
            if peer != me {
                chosen.insert(peer);
            }
        }
        chosen
    }

    fn send(&mut self, ctx: &mut Ctx<'_, GossipMsg>, to: NodeId, msg: GossipMsg) {
        ctx.send(to, msg);
        self.sent += 1;
    }
}

impl Process for Gossiper {
    type Msg = GossipMsg;
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, GossipMsg>) {
        ctx.set_timer(ROUND, self.round);
    }

    // ANCHOR: gossiper
    /// One round: call `fanout` peers, pushing or asking as the style says.
    fn on_timer(&mut self, ctx: &mut Ctx<'_, GossipMsg>, _timer: TimerId) {
        ctx.set_timer(ROUND, self.round);
        let informed = self.informed_at.is_some();
        let msg = match (self.style, informed) {
            (Style::Push, false) => return,
            (Style::Push, true) => GossipMsg::Rumor,
            (Style::Pull, _) => GossipMsg::Request,
            (Style::PushPull, true) => GossipMsg::Rumor,
            (Style::PushPull, false) => GossipMsg::Request,
        };
        for peer in self.peers(ctx) {
            self.send(ctx, peer, msg.clone());
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, GossipMsg>, from: NodeId, msg: GossipMsg) {
        match msg {
            GossipMsg::Rumor => {
                if self.informed_at.is_none() {
                    self.informed_at = Some(ctx.now());
                }
            }
            GossipMsg::Request => {
                if self.informed_at.is_some() {
                    self.send(ctx, from, GossipMsg::Rumor);
                }
            }
        }
    }

    // ANCHOR_END: gossiper

    fn durable(&self) {}
}

/// What one run measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    /// Rounds until the last process learnt the rumor.
    pub rounds: u64,
    /// Messages sent by everyone until then.
    pub messages: u64,
}

// ANCHOR: spread
/// Runs one rumor from process 0 through `n` processes and reports when everyone knew it, or
/// `None` if some process still did not after `max_rounds`.
pub fn spread(style: Style, n: usize, fanout: usize, seed: u64, max_rounds: u64) -> Option<Spread> {
    let round = Duration::from_millis(100);
    let link = crate::sim::LinkConfig::constant(Duration::from_millis(1));
    let processes = (0..n)
        .map(|i| Gossiper::new(style, n, fanout, round, i == 0))
        .collect();
    let mut sim = crate::sim::Sim::new(seed, link, processes);
    for r in 1..=max_rounds {
        // Half a round past round r's timers: every call and answer of round r has arrived.
        sim.run_until(Time::from_secs_f64(0.1 * r as f64 + 0.05))
            .expect("gossip has no invariants");
        let nodes = (0..n).map(|i| sim.process(NodeId(i)).expect("nobody crashes"));
        if nodes.clone().all(|p| p.informed_at.is_some()) {
            let messages = nodes.map(|p| p.sent).sum();
            return Some(Spread {
                rounds: r,
                messages,
            });
        }
    }
    None
}
// ANCHOR_END: spread
