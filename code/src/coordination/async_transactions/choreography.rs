//! The trip saga choreographed: no orchestrator, each service reacts to the previous one's
//! event and emits its own.
//!
//! The rules ([`react`]) are the whole protocol. The first service (flight) books when a trip
//! is placed; each later one books when its predecessor's `booked` event appears; a service
//! whose successor reports `failed` or `cancelled` cancels its own booking and says
//! `cancelled`, so the compensation walks back up the chain one event at a time. With a
//! semantic lock, every service confirms its PENDING booking when the pivot (the last step,
//! payment) reports `booked`.
//!
//! Events travel as outbox messages: a service's reaction (its booking change and the event it
//! emits) is written in the same SQLite transaction as the dedup row of the message that caused
//! it (`choreographed.rs`), so an event is emitted once per cause however often the cause is
//! delivered. No service knows the whole saga; the order of steps is spread over the rules of
//! four services, which is choreography's strength (no central point) and its weakness (the
//! flow is nowhere written down in one place).

use super::saga::{Action, Reply, Step};

// ANCHOR: event
/// What the services tell each other about one saga.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The trip was placed (by the order service, through its outbox).
    Placed,
    Booked(Step),
    Failed(Step),
    Cancelled(Step),
}
// ANCHOR_END: event

/// `"<saga> <event>"`, e.g. `"3 booked hotel"`: the message body and id.
pub fn encode(saga: u64, event: Event) -> String {
    match event {
        Event::Placed => format!("{saga} placed"),
        Event::Booked(s) => format!("{saga} booked {}", s.name()),
        Event::Failed(s) => format!("{saga} failed {}", s.name()),
        Event::Cancelled(s) => format!("{saga} cancelled {}", s.name()),
    }
}

/// The inverse of [`encode`]; `None` for anything else.
pub fn decode(body: &str) -> Option<(u64, Event)> {
    let mut words = body.split(' ');
    let saga = words.next()?.parse().ok()?;
    let verb = words.next()?;
    let step = words
        .next()
        .map(|w| Step::TRIP.into_iter().find(|s| s.name() == w));
    let event = match (verb, step) {
        ("placed", None) => Event::Placed,
        ("booked", Some(Some(s))) => Event::Booked(s),
        ("failed", Some(Some(s))) => Event::Failed(s),
        ("cancelled", Some(Some(s))) => Event::Cancelled(s),
        _ => return None,
    };
    words.next().is_none().then_some((saga, event))
}

// ANCHOR: react
/// What service `me` does when it sees `event`, if anything.
pub fn react(me: Step, steps: &[Step], event: Event, semantic_lock: bool) -> Option<Action> {
    let at = steps.iter().position(|&s| s == me)?;
    let before = at.checked_sub(1).map(|i| steps[i]);
    let after = steps.get(at + 1).copied();
    let pivot = steps.last().copied();
    match event {
        Event::Placed if at == 0 => Some(Action::Execute(me)),
        Event::Booked(s) if Some(s) == before => Some(Action::Execute(me)),
        Event::Booked(s) if semantic_lock && Some(s) == pivot => Some(Action::Confirm(me)),
        Event::Failed(s) | Event::Cancelled(s) if Some(s) == after => Some(Action::Compensate(me)),
        _ => None,
    }
}

/// The event that `me` emits after `action` got `reply`, if any.
pub fn emitted(me: Step, action: Action, reply: Reply) -> Option<Event> {
    match (action, reply) {
        (Action::Execute(_), Reply::Done) => Some(Event::Booked(me)),
        (Action::Execute(_), Reply::Failed) => Some(Event::Failed(me)),
        (Action::Compensate(_), _) => Some(Event::Cancelled(me)),
        _ => None,
    }
}
// ANCHOR_END: react

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_and_garbage_is_refused() {
        for e in [
            Event::Placed,
            Event::Booked(Step::Car),
            Event::Cancelled(Step::Flight),
        ] {
            assert_eq!(decode(&encode(7, e)), Some((7, e)));
        }
        for bad in [
            "",
            "x placed",
            "7 booked",
            "7 booked boat",
            "7 placed car",
            "7 failed car x",
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_failure_walks_back_up_the_chain() {
        let t = &Step::TRIP;
        assert_eq!(
            react(Step::Car, t, Event::Failed(Step::Payment), false),
            Some(Action::Compensate(Step::Car))
        );
        assert_eq!(
            react(Step::Hotel, t, Event::Cancelled(Step::Car), false),
            Some(Action::Compensate(Step::Hotel))
        );
        assert_eq!(
            react(Step::Flight, t, Event::Cancelled(Step::Car), false),
            None
        );
        assert_eq!(
            react(Step::Flight, t, Event::Booked(Step::Payment), true),
            Some(Action::Confirm(Step::Flight))
        );
        assert_eq!(
            react(Step::Flight, t, Event::Booked(Step::Payment), false),
            None
        );
    }
}
