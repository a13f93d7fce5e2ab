//! Gossip-style heartbeat membership (van Renesse, Minsky and Hayden, Middleware 1998).
//!
//! Every member keeps a table with a row per member it knows: that member's heartbeat counter
//! and the local time at which the counter last grew. Every `gossip_interval` a member
//! increments its own counter and sends its table to one member picked at random. A receiver
//! merges the table row by row, keeping the higher counter and stamping its own clock on every
//! row whose counter grew. A member whose counter has not grown for `t_fail` is *suspected*
//! (the paper says "failed"); it is no longer gossiped, and after another `t_cleanup` its row is
//! dropped (the paper's basic protocol).
//!
//! News of a live member reaches everyone in a number of rounds that grows with the logarithm of
//! the group size, along many paths at once, so one lost message or one slow link does not make
//! a live member look dead. No clocks are compared across members: each one only measures, on
//! its own clock, how long a counter has stood still.
//!
//! The paper's resurrection problem: after a member drops a dead row, a gossip message from a
//! member that has not yet dropped it would bring it back, fresh. The paper prevents this by
//! choosing `t_cleanup` long enough; we also remember the last counter of every dropped member
//! and ignore rows that are not newer than it, which makes the rule exact. Model: crash-stop. A
//! member that restarted with its counter back at zero would stay dropped; it must keep its
//! counter on disk or rejoin under a new identity.
//!
//! Guarantee checked in the tests (completeness): a crashed member's counter stops, so every
//! correct member suspects it at most `t_fail` after the last increase it heard of, and never
//! trusts it again.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::RngExt;
use rand::seq::IndexedRandom;

use crate::sim::{Ctx, NodeId, Process, Time, TimerId, nanos};

/// The member's one timer: gossip, and check for failures.
const ROUND: TimerId = TimerId(0);

/// How often to gossip, and how long silence lasts before suspicion and before forgetting.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GossipConfig {
    /// Time between two gossip rounds of one member.
    pub gossip_interval: Duration,
    /// A counter standing still this long makes its member suspected.
    pub t_fail: Duration,
    /// A suspected member's row is dropped this long after suspicion.
    pub t_cleanup: Duration,
}

/// The one message: a member's table, `(member, heartbeat counter)` for every live row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gossip {
    pub rows: Vec<(NodeId, u64)>,
}

// ANCHOR: row
/// What a member knows about another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    /// The highest heartbeat counter heard of.
    pub heartbeat: u64,
    /// When (this member's clock) that counter was first heard of.
    pub updated_at: Time,
}
// ANCHOR_END: row

// ANCHOR: member
/// A member of a gossip heartbeat group.
#[derive(Clone, Debug)]
pub struct GossipMember {
    /// The whole group, this member included, sorted.
    pub group: Vec<NodeId>,
    /// Timing settings.
    pub config: GossipConfig,
    /// One row per member known and not dropped, this member's own included.
    pub table: BTreeMap<NodeId, Row>,
    /// Dropped members and their last counter: older rows about them are ignored.
    pub dropped: BTreeMap<NodeId, u64>,
}

impl GossipMember {
    /// A member of `group` that knows nobody yet.
    pub fn new(group: Vec<NodeId>, config: GossipConfig) -> GossipMember {
        GossipMember {
            group,
            config,
            table: BTreeMap::new(),
            dropped: BTreeMap::new(),
        }
    }

    /// Whether this member suspects `id` at `now`: it has no row for it, or the row's counter
    /// has stood still for longer than `t_fail`.
    pub fn suspects(&self, id: NodeId, now: Time) -> bool {
        match self.table.get(&id) {
            Some(row) => now.since(row.updated_at) > self.config.t_fail,
            None => true,
        }
    }

    /// Merges a received table: a higher counter is news, stamped with this member's clock.
    fn merge(&mut self, rows: &[(NodeId, u64)], now: Time) {
        for &(id, heartbeat) in rows {
            if self.dropped.get(&id).is_some_and(|&last| heartbeat <= last) {
                continue; // news of the dead: would resurrect a dropped member
            }
            let fresh = Row {
                heartbeat,
                updated_at: now,
            };
            let row = self.table.entry(id).or_insert(fresh);
            if heartbeat > row.heartbeat {
                *row = fresh;
            }
        }
    }

    /// One round: beat, forget the long dead, gossip the live rows to a random member.
    fn round(&mut self, ctx: &mut Ctx<'_, Gossip>) {
        let (me, now) = (ctx.id(), ctx.now());
        let own = self.table.get(&me).map_or(0, |r| r.heartbeat) + 1;
        self.table.insert(
            me,
            Row {
                heartbeat: own,
                updated_at: now,
            },
        );
        let forget_after = self.config.t_fail + self.config.t_cleanup;
        let dead: Vec<NodeId> = self
            .table
            .iter()
            .filter(|(_, row)| now.since(row.updated_at) > forget_after)
            .map(|(&id, _)| id)
            .collect();
        for id in dead {
            let row = self.table.remove(&id).expect("listed above");
            self.dropped.insert(id, row.heartbeat);
        }
        let rows: Vec<(NodeId, u64)> = self
            .table
            .iter()
            .filter(|(id, _)| !self.suspects(**id, now))
            .map(|(&id, row)| (id, row.heartbeat))
            .collect();
        let others: Vec<NodeId> = self.group.iter().copied().filter(|&n| n != me).collect();
        if !others.is_empty() {
            let to = *others.choose(ctx.rng()).expect("non-empty");
            ctx.send(to, Gossip { rows });
        }
        ctx.set_timer(ROUND, self.config.gossip_interval);
    }
}
// ANCHOR_END: member

impl Process for GossipMember {
    type Msg = Gossip;
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, Gossip>) {
        // Start every member's rounds at a random phase, so they do not gossip in lockstep.
        let phase = ctx
            .rng()
            .random_range(0..=nanos(self.config.gossip_interval));
        ctx.set_timer(ROUND, Duration::from_nanos(phase));
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Gossip>, _from: NodeId, msg: Gossip) {
        self.merge(&msg.rows, ctx.now());
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Gossip>, timer: TimerId) {
        assert_eq!(timer, ROUND, "unknown timer {timer:?}");
        self.round(ctx);
    }

    fn durable(&self) {}

    fn message_size(msg: &Gossip) -> usize {
        16 * msg.rows.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> GossipConfig {
        GossipConfig {
            gossip_interval: Duration::from_millis(100),
            t_fail: Duration::from_secs(1),
            t_cleanup: Duration::from_secs(2),
        }
    }

    #[test]
    fn merge_keeps_the_higher_counter_and_ignores_news_of_dropped_members() {
        let (a, b, c) = (NodeId(0), NodeId(1), NodeId(2));
        let mut m = GossipMember::new(vec![a, b, c], config());
        let t = Time::from_millis;
        m.merge(&[(b, 5), (c, 3)], t(100));
        m.merge(&[(b, 4), (c, 4)], t(200)); // b: older news; c: newer
        assert_eq!(
            m.table[&b],
            Row {
                heartbeat: 5,
                updated_at: t(100)
            }
        );
        assert_eq!(
            m.table[&c],
            Row {
                heartbeat: 4,
                updated_at: t(200)
            }
        );
        assert!(!m.suspects(b, t(1_100)), "1 s exactly is not yet too long");
        assert!(m.suspects(b, t(1_101)));
        m.table.remove(&c);
        m.dropped.insert(c, 4);
        m.merge(&[(c, 4)], t(300));
        assert!(!m.table.contains_key(&c), "a dropped member stays dropped");
        m.merge(&[(c, 5)], t(300));
        assert!(
            m.table.contains_key(&c),
            "but a newer counter proves it is back"
        );
    }
}
