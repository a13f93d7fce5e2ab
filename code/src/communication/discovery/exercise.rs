//! Exercise: what may a resolver cache from a response, and for how long?
//!
//! Implement [`starter::cache_decision`]: given what a name server said (a [`Lookup`]), decide
//! whether the resolver caches a positive answer, a negative one, or nothing, and the TTL in
//! seconds. The rules to make true:
//!
//! 1. An answer is cached for the smallest TTL of its records (RFC 2181 §5.2: the records of
//!    one set should share a TTL; when they do not, the lowest counts). An answer with no
//!    records is not cached.
//! 2. NXDOMAIN and NODATA are cached as negative answers for `min(SOA record TTL, SOA
//!    MINIMUM)` (RFC 2308 §5), provided the record that came with them really is an SOA.
//! 3. A negative answer whose accompanying record is not an SOA has no TTL to go by, and is
//!    not cached (RFC 2308 §5); neither are referrals and refusals (the answer cache holds
//!    answers; delegations live in their own cache).
//!
//! Run the starter's test with
//!
//! ```text
//! cargo test -p uds --release --lib exercise_cache_decision -- --ignored
//! ```
//!
//! [`solution`] has one answer; its test runs in the normal suite.

use super::zone::Lookup;

/// What to cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Cache the records for `ttl` seconds.
    Positive { ttl: u32 },
    /// Cache "does not exist" for `ttl` seconds.
    Negative { ttl: u32 },
    /// Cache nothing.
    DoNotCache,
}

/// Your version.
pub mod starter {
    use super::{Decision, Lookup};

    /// What the resolver caches from `lookup`.
    pub fn cache_decision(lookup: &Lookup) -> Decision {
        let _ = lookup;
        todo!("exercise: rules 1-3 of the module documentation")
    }
}

/// One answer.
pub mod solution {
    use super::super::zone::RData;
    use super::{Decision, Lookup};

    /// What the resolver caches from `lookup`.
    pub fn cache_decision(lookup: &Lookup) -> Decision {
        match lookup {
            Lookup::Answer(records) => match records.iter().map(|r| r.ttl).min() {
                Some(ttl) => Decision::Positive { ttl },
                None => Decision::DoNotCache,
            },
            Lookup::NxDomain { soa } | Lookup::NoData { soa } => match &soa.data {
                RData::Soa(fields) => Decision::Negative {
                    ttl: soa.ttl.min(fields.minimum),
                },
                _ => Decision::DoNotCache,
            },
            Lookup::Referral { .. } | Lookup::NotAuthoritative => Decision::DoNotCache,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::zone::{RData, Record, RecordType, book_zones, lookup};
    use super::*;
    use std::net::Ipv4Addr;

    /// The exercise's claims, for any implementation.
    fn check_claims(decide: fn(&Lookup) -> Decision) {
        let a = |ttl| {
            Record::new(
                "www.example.com.",
                ttl,
                RData::A(Ipv4Addr::new(192, 0, 2, 1)),
            )
        };
        assert_eq!(
            decide(&Lookup::Answer(vec![a(300), a(60), a(120)])),
            Decision::Positive { ttl: 60 },
            "rule 1: the lowest TTL of the set"
        );
        assert_eq!(
            decide(&Lookup::Answer(vec![])),
            Decision::DoNotCache,
            "rule 1"
        );
        let (root, _, mut example) = book_zones(300);
        for (soa_ttl, minimum, expected) in [(3_600, 60, 60), (30, 60, 30), (0, 60, 0)] {
            example.soa_ttl = soa_ttl;
            example.soa.minimum = minimum;
            let nx = lookup(&example, "nope.example.com.", RecordType::A);
            let nodata = lookup(&example, "www.example.com.", RecordType::Other(16));
            for l in [nx, nodata] {
                // A server may send the SOA with its full TTL: the minimum must still apply.
                let l = match l {
                    Lookup::NxDomain { mut soa } => {
                        soa.ttl = soa_ttl;
                        Lookup::NxDomain { soa }
                    }
                    Lookup::NoData { mut soa } => {
                        soa.ttl = soa_ttl;
                        Lookup::NoData { soa }
                    }
                    other => panic!("the book's zone changed: {other:?}"),
                };
                let got = decide(&l);
                assert_eq!(got, Decision::Negative { ttl: expected }, "rule 2: {l:?}");
            }
        }
        let not_soa = Lookup::NxDomain { soa: a(300) };
        assert_eq!(
            decide(&not_soa),
            Decision::DoNotCache,
            "rule 3: no SOA, no TTL"
        );
        let referral = lookup(&root, "www.example.com.", RecordType::A);
        assert_eq!(
            decide(&referral),
            Decision::DoNotCache,
            "rule 3: a referral"
        );
        assert_eq!(
            decide(&Lookup::NotAuthoritative),
            Decision::DoNotCache,
            "rule 3"
        );
    }

    #[test]
    fn the_solution_caches_what_rfc_2308_allows() {
        check_claims(solution::cache_decision);
    }

    #[test]
    #[ignore = "exercise: implement starter::cache_decision, then run \
                `cargo test -p uds --release --lib exercise_cache_decision -- --ignored`"]
    fn exercise_cache_decision() {
        crate::exercise::starter_or_solution(
            || check_claims(starter::cache_decision),
            || check_claims(solution::cache_decision),
        );
    }
}
