//! The saga state machine of the orchestrator: which step to run next, and which to undo.
//!
//! A saga (Garcia-Molina and Salem, SIGMOD 1987) is a sequence of local transactions
//! `T1, ..., Tn`, each committed on its own in one service, with a compensating transaction
//! `Ci` for each. The saga guarantees that either all of `T1..Tn` run, or `T1..Tj` run and then
//! `Cj..C1` run, in reverse order. Nothing is locked across services in between, so other
//! transactions can see the intermediate states: sagas give up the I of ACID.
//!
//! This file is the orchestrator's brain, and nothing else: it takes the reply to the last
//! command and returns the next command, as data ([`Action`]). It never talks to a database or
//! a network; `orchestrator.rs` persists its [`Saga::phase`] and [`Saga::index`] after every
//! transition and sends the commands, and the playground listing drives it with a closure. Its
//! whole state is those two fields, so resuming after a crash is `Saga::restore` plus
//! [`Saga::next_action`]: the command that may or may not have been executed before the crash is
//! sent again, which is why every participant must make each command idempotent.
//!
//! Invariants: in `Forward`, steps `0..index` have executed; in `Compensating`, steps
//! `0..index` still have to be compensated (the step that failed has nothing to undo, its local
//! transaction did not book anything); a compensation or a confirmation never fails for good (a
//! participant retries it until it succeeds: it is *retriable*), so a failed reply to one is a
//! broken participant, and we assert.
//!
//! The semantic lock (Garcia-Molina and Salem call the general problem the lack of isolation;
//! the countermeasure's name comes from the microservices literature): with `semantic_lock` on,
//! every booking is made PENDING, and only after the last step (the *pivot*, here the payment)
//! succeeds does the saga confirm them, in a `Confirming` phase that cannot fail. A reader that
//! sees PENDING knows the booking may still be undone.

// ANCHOR: types
/// One local transaction of the trip-booking saga, in the service that owns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    Flight,
    Hotel,
    Car,
    Payment,
}

/// What the orchestrator asks a participant to do next (effects as data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Run the step's local transaction (book the flight, charge the card, ...).
    Execute(Step),
    /// Run its compensating transaction (cancel the booking, refund).
    Compensate(Step),
    /// Turn its PENDING booking into a final one (only with semantic locks).
    Confirm(Step),
    /// Nothing left to do: the saga ended this way.
    Finish(Outcome),
}

/// How a saga ends: all steps committed, or all completed steps compensated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Committed,
    Compensated,
}

/// A participant's answer to an [`Action`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The local transaction committed.
    Done,
    /// A business refusal (no seat left, card declined): the saga must be compensated.
    Failed,
}

/// Where the saga is; persisted with [`Saga::index`] after every transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Forward,
    Confirming,
    Compensating,
    Committed,
    Compensated,
}
// ANCHOR_END: types

impl Step {
    /// The trip-booking saga in its usual order: the payment, the step most likely to fail for
    /// reasons the others cannot foresee, is last, the pivot.
    pub const TRIP: [Step; 4] = [Step::Flight, Step::Hotel, Step::Car, Step::Payment];

    /// The step's lowercase name, used for its service and its table.
    pub fn name(self) -> &'static str {
        match self {
            Step::Flight => "flight",
            Step::Hotel => "hotel",
            Step::Car => "car",
            Step::Payment => "payment",
        }
    }
}

impl Phase {
    /// The phase's name in the saga log.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Forward => "forward",
            Phase::Confirming => "confirming",
            Phase::Compensating => "compensating",
            Phase::Committed => "committed",
            Phase::Compensated => "compensated",
        }
    }

    /// The phase named `name` in the saga log, if any.
    pub fn parse(name: &str) -> Option<Phase> {
        [
            Phase::Forward,
            Phase::Confirming,
            Phase::Compensating,
            Phase::Committed,
            Phase::Compensated,
        ]
        .into_iter()
        .find(|p| p.name() == name)
    }
}

/// The orchestrator's state for one saga.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saga {
    /// The steps, in forward order.
    steps: Vec<Step>,
    /// Whether bookings stay PENDING until the pivot succeeds.
    semantic_lock: bool,
    /// Where the saga is.
    pub phase: Phase,
    /// Forward/Confirming: the next step to execute or confirm. Compensating: how many steps
    /// are still to be compensated. Invariant: `index <= steps.len()`.
    pub index: usize,
}

// ANCHOR: saga
impl Saga {
    /// A new saga over `steps`, about to execute the first one.
    pub fn new(steps: &[Step], semantic_lock: bool) -> Saga {
        Saga::restore(steps, semantic_lock, Phase::Forward, 0)
    }

    /// A saga resumed from its log after a crash.
    pub fn restore(steps: &[Step], semantic_lock: bool, phase: Phase, index: usize) -> Saga {
        assert!(index <= steps.len(), "saga log index {index} out of range");
        Saga {
            steps: steps.to_vec(),
            semantic_lock,
            phase,
            index,
        }
    }

    /// The command to send now. After a crash it is the command that may already have been
    /// carried out: participants must treat it idempotently.
    pub fn next_action(&self) -> Action {
        match self.phase {
            Phase::Forward => Action::Execute(self.steps[self.index]),
            Phase::Confirming => Action::Confirm(self.steps[self.index]),
            Phase::Compensating => Action::Compensate(self.steps[self.index - 1]),
            Phase::Committed => Action::Finish(Outcome::Committed),
            Phase::Compensated => Action::Finish(Outcome::Compensated),
        }
    }

    /// Takes the reply to [`Saga::next_action`] and returns the next action.
    pub fn on_reply(&mut self, reply: Reply) -> Action {
        let last = self.steps.len();
        match (self.phase, reply) {
            (Phase::Forward, Reply::Done) if self.index + 1 < last => self.index += 1,
            (Phase::Forward, Reply::Done) if self.semantic_lock => self.enter(Phase::Confirming),
            (Phase::Forward, Reply::Done) => self.enter(Phase::Committed),
            // The failed step booked nothing: undo the `index` steps before it, last first.
            (Phase::Forward, Reply::Failed) if self.index == 0 => self.enter(Phase::Compensated),
            (Phase::Forward, Reply::Failed) => self.phase = Phase::Compensating,
            (Phase::Confirming, Reply::Done) if self.index + 1 < last => self.index += 1,
            (Phase::Confirming, Reply::Done) => self.enter(Phase::Committed),
            (Phase::Compensating, Reply::Done) if self.index > 1 => self.index -= 1,
            (Phase::Compensating, Reply::Done) => self.enter(Phase::Compensated),
            (phase, reply) => panic!(
                "reply {reply:?} in phase {phase:?}: compensations and \
                                      confirmations are retried until they succeed"
            ),
        }
        self.next_action()
    }

    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.index = 0;
    }
}
// ANCHOR_END: saga

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a saga whose `fails` step refuses, and returns every action it sent.
    fn transcript(fails: Option<Step>, lock: bool) -> Vec<Action> {
        let mut saga = Saga::new(&Step::TRIP, lock);
        let mut actions = vec![saga.next_action()];
        while let Some(&action) = actions.last() {
            let reply = match action {
                Action::Execute(s) if Some(s) == fails => Reply::Failed,
                Action::Finish(_) => break,
                _ => Reply::Done,
            };
            actions.push(saga.on_reply(reply));
        }
        actions
    }

    #[test]
    fn compensations_run_in_reverse_order_and_skip_the_failed_step() {
        use Action::*;
        use Step::*;
        assert_eq!(
            transcript(Some(Payment), false),
            vec![
                Execute(Flight),
                Execute(Hotel),
                Execute(Car),
                Execute(Payment),
                Compensate(Car),
                Compensate(Hotel),
                Compensate(Flight),
                Finish(Outcome::Compensated),
            ]
        );
        assert_eq!(
            transcript(Some(Flight), false),
            vec![Execute(Flight), Finish(Outcome::Compensated)]
        );
    }

    #[test]
    fn with_a_semantic_lock_bookings_are_confirmed_after_the_pivot() {
        use Action::*;
        use Step::*;
        let t = transcript(None, true);
        assert_eq!(
            &t[4..],
            &[
                Confirm(Flight),
                Confirm(Hotel),
                Confirm(Car),
                Confirm(Payment),
                Finish(Outcome::Committed)
            ]
        );
    }

    #[test]
    fn phase_names_round_trip() {
        for p in [
            "forward",
            "confirming",
            "compensating",
            "committed",
            "compensated",
        ] {
            assert_eq!(Phase::parse(p).map(Phase::name), Some(p));
        }
        assert_eq!(Phase::parse("done"), None);
    }
}
