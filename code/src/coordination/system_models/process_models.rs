//! Process models: how the monitored process may fail, as simulator faults.
//!
//! Cachin, Guerraoui and Rodrigues (2011, §2.2) order process failures from mildest to worst:
//!
//! - **Crash-stop** (§2.2.2): a process runs correctly until it stops, and never comes back.
//!   In the simulator: a `Fault::Crash` with no restart after it.
//! - **Crash-recovery** (§2.2.4): a process may crash and come back, any number of times. It
//!   loses what it held in memory and keeps what it wrote to stable storage. In the simulator:
//!   `Fault::Crash`, then `Fault::Restart`, with [`Sim::on_restart`](crate::sim::Sim::on_restart)
//!   building the new process from its [`Process::durable`](crate::sim::Process::durable) state.
//!   Our target keeps one number on disk, its incarnation.
//! - **Byzantine**, or arbitrary (§2.2.6; Lamport, Shostak and Pease, "The Byzantine generals
//!   problem", TOPLAS 4(3), 1982): a process may do anything at all, including lie. In the
//!   simulator: a process whose code deviates from the protocol, here a target that answers
//!   ping `k` with a pong for ping `k + 1`.
//!
//! What the simulator cannot model: a Byzantine *network*. Every delivery carries its true
//! sender, so a faulty process cannot impersonate another (links are authenticated, as if every
//! message were signed), and it cannot see or change other processes' messages. Nor can a
//! Byzantine process break the simulator's rules: it cannot send faster than its events let it,
//! read another node's state, or stop time. The lies it can tell are lies in message contents and
//! in when (or whether) it sends, which is what Byzantine tolerance is about in practice.

use std::time::Duration;

use super::ping::{PingMsg, PingNode, TARGET, Target};
use crate::sim::{Fault, Sim, Time};

// ANCHOR: conduct
/// How a target answers a ping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conduct {
    /// Answers ping `k` with pong `k`.
    Honest,
    /// Byzantine: answers ping `k` with pong `k + 1`, a pong for a ping not yet sent.
    ForgesSequence,
}

impl Conduct {
    /// The pong this target sends for ping `seq`.
    pub fn pong_for(self, seq: u64, incarnation: u64) -> PingMsg {
        match self {
            Conduct::Honest => PingMsg::Pong { seq, incarnation },
            Conduct::ForgesSequence => PingMsg::Pong {
                seq: seq + 1,
                incarnation,
            },
        }
    }
}
// ANCHOR_END: conduct

// ANCHOR: target_fault
/// What happens to the target during a run: nothing, or a fault of one process model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetFault {
    /// The target is correct for the whole run.
    None,
    /// Crash-stop: the target crashes `at` into the run and stays down.
    CrashStop { at: Duration },
    /// Crash-recovery: the target crashes `at` into the run and restarts `down_for` later,
    /// with its incarnation from disk.
    CrashRecovery { at: Duration, down_for: Duration },
    /// Byzantine: the target runs the whole time, but lies in its pongs.
    Byzantine,
}

impl TargetFault {
    /// The target process this fault model starts with.
    pub fn target(&self) -> Target {
        match self {
            TargetFault::Byzantine => Target::new(Conduct::ForgesSequence),
            _ => Target::new(Conduct::Honest),
        }
    }

    /// Schedules the fault's crashes and restarts in `sim`.
    pub fn schedule(&self, sim: &mut Sim<PingNode>) {
        match *self {
            TargetFault::None | TargetFault::Byzantine => {}
            TargetFault::CrashStop { at } => {
                sim.schedule_fault(Time::ZERO + at, Fault::Crash(TARGET));
            }
            TargetFault::CrashRecovery { at, down_for } => {
                sim.on_restart(|_id, incarnation| {
                    PingNode::Target(Target::restarted(incarnation, Conduct::Honest))
                });
                sim.schedule_fault(Time::ZERO + at, Fault::Crash(TARGET));
                sim.schedule_fault(Time::ZERO + at + down_for, Fault::Restart(TARGET));
            }
        }
    }

    /// Whether the target was faulty (down, or Byzantine) at any instant of `[from, to]`.
    /// A suspicion is *false* when the target was correct over the whole window of the ping
    /// that triggered it.
    pub fn faulty_during(&self, from: Time, to: Time) -> bool {
        match *self {
            TargetFault::None => false,
            TargetFault::Byzantine => true,
            TargetFault::CrashStop { at } => to >= Time::ZERO + at,
            TargetFault::CrashRecovery { at, down_for } => {
                let down = Time::ZERO + at;
                let up = down + down_for;
                to >= down && from <= up
            }
        }
    }
}
// ANCHOR_END: target_fault

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faulty_windows_follow_the_process_model() {
        let s = Time::from_millis;
        let crash_stop = TargetFault::CrashStop {
            at: Duration::from_secs(10),
        };
        let recovery = TargetFault::CrashRecovery {
            at: Duration::from_secs(10),
            down_for: Duration::from_secs(5),
        };
        // (fault, window from, window to, faulty?)
        let cases = [
            (TargetFault::None, s(0), s(99_000), false),
            (TargetFault::Byzantine, s(0), s(1), true),
            (crash_stop, s(9_000), s(9_999), false),
            (crash_stop, s(9_990), s(10_010), true),
            (crash_stop, s(50_000), s(50_020), true),
            (recovery, s(9_000), s(9_999), false),
            (recovery, s(12_000), s(12_020), true),
            (recovery, s(15_000), s(15_020), true),
            (recovery, s(15_001), s(15_020), false),
        ];
        for (fault, from, to, faulty) in cases {
            assert_eq!(
                fault.faulty_during(from, to),
                faulty,
                "{fault:?} {from}..{to}"
            );
        }
    }

    #[test]
    fn a_forged_pong_answers_the_next_ping() {
        assert_eq!(
            Conduct::ForgesSequence.pong_for(4, 0),
            PingMsg::Pong {
                seq: 5,
                incarnation: 0
            }
        );
        assert_eq!(
            Conduct::Honest.pong_for(4, 2),
            PingMsg::Pong {
                seq: 4,
                incarnation: 2
            }
        );
    }
}
