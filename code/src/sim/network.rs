//! The simulated network: what can happen to a message between two nodes.
//!
//! Each directed link `from -> to` has a [`LinkConfig`]: a latency distribution, a probability
//! of losing a message, of duplicating it, of holding it back long enough to reorder it, and an
//! optional bandwidth. Partitions block links, in one direction or both, until healed. A message
//! is judged once, when it is sent: if the link is blocked or the message is lost it never
//! arrives; otherwise it arrives once (or twice, if duplicated) after its sampled delay.
//!
//! Simplification: a partition that starts while a message is in flight does not stop it,
//! just as packets already on the wire still arrive when a cable is pulled at one end.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::process::NodeId;
use rand::distr::{Distribution, OpenClosed01};
use rand::{Rng, RngExt};

use super::rng::{Exponential, StandardNormal};
use super::time::{Time, nanos};

// ANCHOR: latency
/// How long a message spends on a link.
#[derive(Clone, Debug, PartialEq)]
pub enum Latency {
    /// Always the same delay.
    Constant(Duration),
    /// Uniform between `min` and `max`.
    Uniform { min: Duration, max: Duration },
    /// `min` plus an exponential delay with mean `mean`: memoryless queueing delay.
    Exponential { min: Duration, mean: Duration },
    /// Log-normal with median `median` and shape `sigma`: a long tail, as measured in
    /// datacenters, where the p99 is many times the median.
    LogNormal { median: Duration, sigma: f64 },
    /// Pareto with minimum `scale` and tail index `shape`: the heaviest tail; for
    /// `shape <= 1` even the mean is infinite.
    Pareto { scale: Duration, shape: f64 },
}

/// Drawing one delay: a latency model is a distribution in rand's sense.
impl Distribution<Duration> for Latency {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        let secs = |d: &Duration| d.as_secs_f64();
        let s = match self {
            Latency::Constant(d) => return *d,
            Latency::Uniform { min, max } => {
                secs(min) + rng.random::<f64>() * (secs(max) - secs(min))
            }
            Latency::Exponential { min, mean } => {
                secs(min) + rng.sample(Exponential { mean: secs(mean) })
            }
            Latency::LogNormal { median, sigma } => {
                secs(median) * (sigma * rng.sample(StandardNormal)).exp()
            }
            Latency::Pareto { scale, shape } => {
                let u: f64 = rng.sample(OpenClosed01);
                secs(scale) / u.powf(1.0 / shape)
            }
        };
        // Cap at a day so that a pathological tail cannot overflow the clock.
        Duration::from_secs_f64(s.clamp(0.0, 86_400.0))
    }
}

impl Latency {
    /// The largest delay this distribution can produce, if it is bounded.
    pub fn upper_bound(&self) -> Option<Duration> {
        match self {
            Latency::Constant(d) => Some(*d),
            Latency::Uniform { max, .. } => Some(*max),
            _ => None,
        }
    }
}
// ANCHOR_END: latency

// ANCHOR: link_config
/// The behaviour of one directed link.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    /// The delay of a message that is not lost.
    pub latency: Latency,
    /// Probability that a message is silently dropped.
    pub loss: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
    /// Probability that a message is held back by up to `reorder_window` extra.
    pub reorder: f64,
    /// The extra delay of a held-back message is uniform in `[0, reorder_window]`.
    pub reorder_window: Duration,
    /// Bytes per second, or `None` for unlimited. A limited link sends one message at a time,
    /// so a large message delays the ones behind it.
    pub bandwidth: Option<u64>,
}
// ANCHOR_END: link_config

impl LinkConfig {
    /// A perfect link with a constant delay: no loss, duplication or reordering.
    pub fn constant(latency: Duration) -> LinkConfig {
        LinkConfig {
            latency: Latency::Constant(latency),
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_window: Duration::ZERO,
            bandwidth: None,
        }
    }

    /// This link with a different latency distribution.
    pub fn with_latency(mut self, latency: Latency) -> LinkConfig {
        self.latency = latency;
        self
    }

    /// This link with loss probability `loss`.
    pub fn with_loss(mut self, loss: f64) -> LinkConfig {
        self.loss = loss;
        self
    }

    /// This link with duplication probability `duplicate`.
    pub fn with_duplicate(mut self, duplicate: f64) -> LinkConfig {
        self.duplicate = duplicate;
        self
    }

    /// This link, holding back a fraction `reorder` of messages by up to `window`.
    pub fn with_reorder(mut self, reorder: f64, window: Duration) -> LinkConfig {
        self.reorder = reorder;
        self.reorder_window = window;
        self
    }

    /// This link with a bandwidth of `bytes_per_sec`.
    pub fn with_bandwidth(mut self, bytes_per_sec: u64) -> LinkConfig {
        self.bandwidth = Some(bytes_per_sec);
        self
    }

    /// Checks that every probability is a probability and the bandwidth is not zero.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} probability {p} is not in [0, 1]"));
            }
        }
        if self.bandwidth == Some(0) {
            return Err("bandwidth must be positive".to_string());
        }
        if let Latency::LogNormal { sigma: s, .. } | Latency::Pareto { shape: s, .. } = self.latency
            && !(s.is_finite() && s > 0.0)
        {
            return Err(format!("latency shape {s} must be positive"));
        }
        Ok(())
    }
}

/// Why a message never arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DropReason {
    /// The link lost it.
    Loss,
    /// A partition blocked the link.
    Partition,
    /// The receiver was crashed when it arrived.
    Crashed,
}

/// The fate of one sent message: when its copies arrive, or why none does.
#[derive(Clone, Debug, PartialEq)]
pub enum Fate {
    /// Delivered at the first instant, and again at the second if duplicated.
    Arrives(Time, Option<Time>),
    /// Never delivered.
    Dropped(DropReason),
}

/// All links of a run: a default configuration, per-link overrides, and the partitions.
#[derive(Clone, Debug)]
pub struct Network {
    default: LinkConfig,
    overrides: BTreeMap<(NodeId, NodeId), LinkConfig>,
    /// Directed links that a partition currently blocks.
    blocked: BTreeSet<(NodeId, NodeId)>,
    /// For bandwidth-limited links: when the link finishes sending what it already has.
    busy_until: BTreeMap<(NodeId, NodeId), Time>,
}

impl Network {
    /// A network in which every link behaves as `default`.
    pub fn new(default: LinkConfig) -> Network {
        Network {
            default,
            overrides: BTreeMap::new(),
            blocked: BTreeSet::new(),
            busy_until: BTreeMap::new(),
        }
    }

    /// Gives the directed link `from -> to` its own configuration.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, config: LinkConfig) {
        self.overrides.insert((from, to), config);
    }

    /// The configuration of link `from -> to`.
    pub fn link(&self, from: NodeId, to: NodeId) -> &LinkConfig {
        if self.overrides.is_empty() {
            return &self.default;
        }
        self.overrides.get(&(from, to)).unwrap_or(&self.default)
    }

    /// Blocks every link from a node of `from` to a node of `to` (one direction only).
    pub fn block(&mut self, from: &[NodeId], to: &[NodeId]) {
        for &a in from {
            for &b in to {
                if a != b {
                    self.blocked.insert((a, b));
                }
            }
        }
    }

    /// Blocks both directions between the two sides.
    pub fn partition(&mut self, a: &[NodeId], b: &[NodeId]) {
        self.block(a, b);
        self.block(b, a);
    }

    /// Removes every partition.
    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    /// True if a partition blocks `from -> to`.
    pub fn is_blocked(&self, from: NodeId, to: NodeId) -> bool {
        !self.blocked.is_empty() && self.blocked.contains(&(from, to))
    }

    /// Decides the fate of a message of `size` bytes sent at `now` on `from -> to`.
    pub fn transmit(
        &mut self,
        from: NodeId,
        to: NodeId,
        size: usize,
        now: Time,
        rng: &mut impl Rng,
    ) -> Fate {
        if self.is_blocked(from, to) {
            return Fate::Dropped(DropReason::Partition);
        }
        // Cloning is cheap: a link configuration holds no heap data.
        let link = self.link(from, to).clone();
        if rng.random_bool(link.loss) {
            return Fate::Dropped(DropReason::Loss);
        }
        // A bandwidth-limited link serialises messages: this one starts when the link is free.
        let mut departs = now;
        if let Some(bytes_per_sec) = link.bandwidth {
            let busy = self.busy_until.entry((from, to)).or_insert(Time::ZERO);
            let start = departs.max(*busy);
            let transmit_ns = (size as u128 * 1_000_000_000).div_ceil(bytes_per_sec as u128);
            departs = Time(start.0.saturating_add(transmit_ns as u64));
            *busy = departs;
        }
        let first = departs + delay(&link, rng);
        let second = rng
            .random_bool(link.duplicate)
            .then(|| departs + delay(&link, rng));
        Fate::Arrives(first, second)
    }
}

/// One message's delay on `link`: its latency, plus a hold-back if it is chosen for reordering.
fn delay(link: &LinkConfig, rng: &mut impl Rng) -> Duration {
    let mut d = link.latency.sample(rng);
    if rng.random_bool(link.reorder) {
        d += Duration::from_nanos(rng.random_range(0..=nanos(link.reorder_window)));
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimRng;
    use rand::SeedableRng;

    const A: NodeId = NodeId(0);
    const B: NodeId = NodeId(1);

    #[test]
    fn one_way_partition_blocks_one_direction() {
        let mut net = Network::new(LinkConfig::constant(Duration::from_millis(1)));
        net.block(&[A], &[B]);
        let mut rng = SimRng::seed_from_u64(1);
        assert_eq!(
            net.transmit(A, B, 0, Time::ZERO, &mut rng),
            Fate::Dropped(DropReason::Partition)
        );
        assert!(matches!(
            net.transmit(B, A, 0, Time::ZERO, &mut rng),
            Fate::Arrives(..)
        ));
        net.heal();
        assert!(matches!(
            net.transmit(A, B, 0, Time::ZERO, &mut rng),
            Fate::Arrives(..)
        ));
    }

    #[test]
    fn bandwidth_serialises_messages() {
        let link = LinkConfig::constant(Duration::ZERO).with_bandwidth(1_000);
        let mut net = Network::new(link);
        let mut rng = SimRng::seed_from_u64(1);
        // Two 500-byte messages at 1,000 B/s: the second waits for the first.
        let first = net.transmit(A, B, 500, Time::ZERO, &mut rng);
        let second = net.transmit(A, B, 500, Time::ZERO, &mut rng);
        assert_eq!(first, Fate::Arrives(Time::from_millis(500), None));
        assert_eq!(second, Fate::Arrives(Time::from_millis(1000), None));
    }

    #[test]
    fn loss_rate_matches_configuration() {
        let mut net = Network::new(LinkConfig::constant(Duration::ZERO).with_loss(0.2));
        let mut rng = SimRng::seed_from_u64(9);
        let lost = (0..100_000)
            .filter(|_| {
                matches!(
                    net.transmit(A, B, 0, Time::ZERO, &mut rng),
                    Fate::Dropped(_)
                )
            })
            .count();
        assert!((19_000..21_000).contains(&lost), "lost {lost}");
    }

    #[test]
    fn invalid_links_are_rejected() {
        let base = LinkConfig::constant(Duration::ZERO);
        assert!(base.clone().with_loss(1.5).validate().is_err());
        assert!(base.clone().with_bandwidth(0).validate().is_err());
        let tail = Latency::Pareto {
            scale: Duration::from_millis(1),
            shape: 0.0,
        };
        assert!(base.clone().with_latency(tail).validate().is_err());
        assert!(base.validate().is_ok());
    }
}
