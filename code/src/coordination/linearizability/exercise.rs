//! Exercise: a model for a compare-and-set register.
//!
//! The checker knows nothing about keys and values; everything it knows about an object is in
//! its [`Model`](super::Model). Writing a model for a new object is therefore all it takes to
//! check that object, and this exercise does it for the object consensus is usually explained
//! with: a register holding a number (initially 0) with `read`, `write(v)` and
//! `cas(expected, new)`, which sets the register to `new` and answers `true` if it held
//! `expected`, and otherwise changes nothing and answers `false` (Herlihy, "Wait-free
//! synchronization", TOPLAS 13(1), 1991, shows why this operation is strong enough to build
//! consensus from).
//!
//! Implement `step` in [`starter::CasRegister`]. The claims to make true: two concurrent
//! `cas(0, _)` cannot both succeed; a `cas` that fails while the register held `expected`, with
//! nothing concurrent to change it, is illegal; a `cas` whose outcome is unknown may explain a
//! later read. Run the starter's test with
//!
//! ```text
//! cargo test -p uds --release --lib exercise_cas_register -- --ignored
//! ```
//!
//! [`solution`] has one answer; its tests run in the normal test suite.

/// What a client of the register may ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegisterInput {
    /// Read the value.
    Read,
    /// Set the value.
    Write(u64),
    /// Set the value to `new` if it is `expected`.
    Cas { expected: u64, new: u64 },
}

/// What the register may answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegisterOutput {
    /// The answer to a read.
    Value(u64),
    /// The answer to a write.
    Ok,
    /// The answer to a compare-and-set: whether it swapped.
    Swapped(bool),
}

/// Your version.
pub mod starter {
    use super::{RegisterInput, RegisterOutput};
    use crate::coordination::linearizability::Model;

    /// The register's sequential specification; its state is the value held.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct CasRegister;

    impl Model for CasRegister {
        type State = u64;
        type Input = RegisterInput;
        type Output = RegisterOutput;

        fn init(&self) -> u64 {
            0
        }

        fn step(
            &self,
            _state: &u64,
            _input: &RegisterInput,
            _output: Option<&RegisterOutput>,
        ) -> Option<u64> {
            todo!("the state after the input, or None if the register could not have answered so")
        }
    }
}

/// One answer.
pub mod solution {
    use super::{RegisterInput, RegisterOutput};
    use crate::coordination::linearizability::Model;

    /// The register's sequential specification; its state is the value held.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct CasRegister;

    impl Model for CasRegister {
        type State = u64;
        type Input = RegisterInput;
        type Output = RegisterOutput;

        fn init(&self) -> u64 {
            0
        }

        // ANCHOR: cas_step
        fn step(
            &self,
            state: &u64,
            input: &RegisterInput,
            output: Option<&RegisterOutput>,
        ) -> Option<u64> {
            let (next, answer) = match *input {
                RegisterInput::Read => (*state, RegisterOutput::Value(*state)),
                RegisterInput::Write(v) => (v, RegisterOutput::Ok),
                RegisterInput::Cas { expected, new } if *state == expected => {
                    (new, RegisterOutput::Swapped(true))
                }
                RegisterInput::Cas { .. } => (*state, RegisterOutput::Swapped(false)),
            };
            // The register is deterministic: the only possible answer is `answer`.
            match output {
                Some(seen) if *seen != answer => None,
                _ => Some(next),
            }
        }
        // ANCHOR_END: cas_step
    }
}

#[cfg(test)]
mod tests {
    use super::{RegisterInput, RegisterOutput};
    use crate::coordination::linearizability::{CheckResult, Model, Operation, check};

    type RegisterOp = Operation<RegisterInput, RegisterOutput>;

    fn op(input: RegisterInput, output: Option<RegisterOutput>, call: u64, ret: u64) -> RegisterOp {
        let return_ns = if output.is_some() { ret } else { u64::MAX };
        Operation {
            client: call,
            input,
            output,
            call_ns: call,
            return_ns,
        }
    }

    fn cas(expected: u64, new: u64, swapped: Option<bool>, call: u64, ret: u64) -> RegisterOp {
        let input = RegisterInput::Cas { expected, new };
        op(input, swapped.map(RegisterOutput::Swapped), call, ret)
    }

    fn read(value: u64, call: u64, ret: u64) -> RegisterOp {
        op(
            RegisterInput::Read,
            Some(RegisterOutput::Value(value)),
            call,
            ret,
        )
    }

    fn ok<M: Model<Input = RegisterInput, Output = RegisterOutput>>(
        m: &M,
        h: &[RegisterOp],
    ) -> bool {
        check(m, h) == CheckResult::Ok
    }

    /// The exercise's claims, for any implementation.
    fn check_claims<M: Model<Input = RegisterInput, Output = RegisterOutput>>(m: &M) {
        // Two concurrent cas(0, _) cannot both succeed, but one may succeed and one fail.
        assert!(!ok(
            m,
            &[cas(0, 1, Some(true), 0, 10), cas(0, 2, Some(true), 5, 15)]
        ));
        assert!(ok(
            m,
            &[cas(0, 1, Some(true), 0, 10), cas(0, 2, Some(false), 5, 15)]
        ));
        // A failure must be justified by the value held.
        assert!(!ok(m, &[cas(0, 1, Some(false), 0, 10)]));
        let write = op(RegisterInput::Write(7), Some(RegisterOutput::Ok), 0, 10);
        assert!(ok(
            m,
            &[
                write.clone(),
                cas(0, 1, Some(false), 20, 30),
                read(7, 40, 50)
            ]
        ));
        assert!(!ok(m, &[write, cas(7, 1, Some(false), 20, 30)]));
        // A cas whose outcome is unknown may explain a later read, or not.
        assert!(ok(m, &[cas(0, 3, None, 0, 0), read(3, 20, 30)]));
        assert!(ok(m, &[cas(0, 3, None, 0, 0), read(0, 20, 30)]));
        assert!(!ok(m, &[cas(0, 3, None, 0, 0), read(4, 20, 30)]));
    }

    #[test]
    fn cas_register_lets_one_of_two_concurrent_swaps_win() {
        check_claims(&super::solution::CasRegister);
    }

    #[test]
    #[ignore = "exercise: implement starter::CasRegister::step, then run \
                `cargo test -p uds --release --lib exercise_cas_register -- --ignored`"]
    fn exercise_cas_register() {
        crate::exercise::starter_or_solution(
            || check_claims(&super::starter::CasRegister),
            || check_claims(&super::solution::CasRegister),
        );
    }
}
