//! Zones and the authoritative lookup: one pure function from a zone and a question to an
//! answer, a referral, or a negative answer.
//!
//! An authoritative server holds *zones*: the records of one subtree of the name hierarchy,
//! minus the subtrees it delegates. [`lookup`] is the core of RFC 1034 §4.3.2 (the algorithm of
//! a name server) for the cases this chapter needs: an exact match answers; a name at or below
//! a delegation (NS records below the zone's apex) gets a referral with the glue addresses of
//! the delegated servers; a name that exists with other types gets NODATA; a name that does
//! not exist gets NXDOMAIN. Both negative answers carry the zone's SOA record, whose TTL is the
//! smaller of the SOA's own TTL and its MINIMUM field (RFC 2308 §3), so that resolvers know how
//! long to cache the negative answer.
//!
//! The simulated name servers and the real UDP server (`server.rs`) both call this function: the
//! real server is the model behind a socket. Simplifications: no CNAME, no wildcards, no DNSSEC,
//! class IN only; names are lower-case ASCII with a trailing dot (`www.example.com.`).

use std::net::{Ipv4Addr, Ipv6Addr};

// ANCHOR: types
/// The record types this chapter serves; anything else is `Other(code)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordType {
    A,
    Aaaa,
    Ns,
    Soa,
    /// A type we hold no records of (MX, TXT, ...): its questions get NODATA or NXDOMAIN.
    Other(u16),
}

/// The start of authority: who owns the zone, and how long to cache its negative answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Soa {
    /// The primary name server.
    pub mname: String,
    /// The mailbox of the person responsible, as a name (`hostmaster.example.com.`).
    pub rname: String,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    /// Since RFC 2308 §4: the longest time a negative answer from this zone may be cached.
    pub minimum: u32,
}

/// The data of a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    /// The name of a name server for the record's name.
    Ns(String),
    Soa(Soa),
}

/// A resource record: a name, how long it may be cached (seconds), and its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    pub ttl: u32,
    pub data: RData,
}

/// What an authoritative server says about one question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The records of the asked name and type (NOERROR, answer section).
    Answer(Vec<Record>),
    /// "Ask them": the NS records of a delegated zone and the addresses (glue) of its servers.
    Referral { ns: Vec<Record>, glue: Vec<Record> },
    /// The name exists but has no record of this type (NOERROR, empty answer, SOA).
    NoData { soa: Record },
    /// The name does not exist (NXDOMAIN, SOA in the authority section).
    NxDomain { soa: Record },
    /// The name is not in any zone this server holds (REFUSED).
    NotAuthoritative,
}
// ANCHOR_END: types

impl RData {
    /// The type of this data.
    pub fn record_type(&self) -> RecordType {
        match self {
            RData::A(_) => RecordType::A,
            RData::Aaaa(_) => RecordType::Aaaa,
            RData::Ns(_) => RecordType::Ns,
            RData::Soa(_) => RecordType::Soa,
        }
    }
}

impl Record {
    /// A record of `name` (made lower-case and fully qualified).
    pub fn new(name: &str, ttl: u32, data: RData) -> Record {
        Record {
            name: fqdn(name),
            ttl,
            data,
        }
    }
}

/// One zone: its apex (`origin`), its SOA with the SOA record's own TTL, and its records,
/// including the NS records of the apex, of delegations, and glue addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    pub origin: String,
    pub soa_ttl: u32,
    pub soa: Soa,
    pub records: Vec<Record>,
}

impl Zone {
    /// An empty zone at `origin`, negative answers cacheable for `min(soa_ttl, minimum)`.
    pub fn new(origin: &str, soa_ttl: u32, minimum: u32) -> Zone {
        let origin = fqdn(origin);
        Zone {
            soa: Soa {
                mname: format!("ns1.{}", trim_root(&origin)),
                rname: format!("hostmaster.{}", trim_root(&origin)),
                serial: 1,
                refresh: 3_600,
                retry: 600,
                expire: 604_800,
                minimum,
            },
            origin,
            soa_ttl,
            records: Vec::new(),
        }
    }

    /// Adds a record (builder style).
    pub fn with(mut self, name: &str, ttl: u32, data: RData) -> Zone {
        self.records.push(Record::new(name, ttl, data));
        self
    }

    /// Replaces the data of every record of `name` and type `data.record_type()` by `data`,
    /// and bumps the serial, as an operator's change would. Returns how many records changed.
    pub fn update(&mut self, name: &str, data: RData) -> usize {
        let name = fqdn(name);
        let mut changed = 0;
        for r in &mut self.records {
            if r.name == name && r.data.record_type() == data.record_type() {
                r.data = data.clone();
                changed += 1;
            }
        }
        self.soa.serial = self.soa.serial.wrapping_add(1);
        changed
    }

    // ANCHOR: soa_record
    /// The SOA record as negative answers carry it: its TTL is the smaller of the SOA record's
    /// TTL and the MINIMUM field (RFC 2308 §3).
    pub fn negative_soa(&self) -> Record {
        Record {
            name: self.origin.clone(),
            ttl: self.soa_ttl.min(self.soa.minimum),
            data: RData::Soa(self.soa.clone()),
        }
    }
    // ANCHOR_END: soa_record
}

/// `name` in lower case with exactly one trailing dot; the root is `.`.
pub fn fqdn(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    let trimmed = lower.trim_end_matches('.');
    if trimmed.is_empty() {
        ".".to_string()
    } else {
        format!("{trimmed}.")
    }
}

fn trim_root(name: &str) -> &str {
    if name == "." { "" } else { name }
}

/// Whether `name` is `ancestor` or below it (`www.example.com.` is under `com.` and `.`).
pub fn is_under(name: &str, ancestor: &str) -> bool {
    ancestor == "." || name == ancestor || name.ends_with(&format!(".{ancestor}"))
}

/// The parent of `name` (`example.com.` -> `com.` -> `.`); `None` for the root.
pub fn parent(name: &str) -> Option<&str> {
    if name == "." {
        return None;
    }
    match name.find('.') {
        Some(i) if i + 1 < name.len() => Some(&name[i + 1..]),
        _ => Some("."),
    }
}

// ANCHOR: lookup
/// What the zone's authoritative server answers to `qname`/`qtype` (RFC 1034 §4.3.2, without
/// CNAMEs and wildcards).
pub fn lookup(zone: &Zone, qname: &str, qtype: RecordType) -> Lookup {
    let qname = fqdn(qname);
    if !is_under(&qname, &zone.origin) {
        return Lookup::NotAuthoritative;
    }
    // A delegation at or above the name (but below the apex) hands the question on.
    if let Some(cut) = delegation_cut(zone, &qname) {
        return referral(zone, &cut);
    }
    if qtype == RecordType::Soa && qname == zone.origin {
        let soa = Record::new(&zone.origin, zone.soa_ttl, RData::Soa(zone.soa.clone()));
        return Lookup::Answer(vec![soa]);
    }
    let answers: Vec<Record> = zone
        .records
        .iter()
        .filter(|r| r.name == qname && r.data.record_type() == qtype)
        .cloned()
        .collect();
    if !answers.is_empty() {
        return Lookup::Answer(answers);
    }
    // The name exists if it owns a record or has descendants (an "empty non-terminal").
    let exists = qname == zone.origin || zone.records.iter().any(|r| is_under(&r.name, &qname));
    let soa = zone.negative_soa();
    if exists {
        Lookup::NoData { soa }
    } else {
        Lookup::NxDomain { soa }
    }
}
// ANCHOR_END: lookup

/// The highest name between the apex (excluded) and `qname` (included) that owns NS records.
fn delegation_cut(zone: &Zone, qname: &str) -> Option<String> {
    let mut cut = None;
    let mut name = Some(qname);
    while let Some(n) = name {
        if n == zone.origin {
            break;
        }
        let has_ns = zone
            .records
            .iter()
            .any(|r| r.name == n && r.data.record_type() == RecordType::Ns);
        if has_ns {
            cut = Some(n.to_string()); // keep climbing: the highest cut wins
        }
        name = parent(n);
    }
    cut
}

fn referral(zone: &Zone, cut: &str) -> Lookup {
    let ns: Vec<Record> = zone
        .records
        .iter()
        .filter(|r| r.name == cut && r.data.record_type() == RecordType::Ns)
        .cloned()
        .collect();
    let glue = zone
        .records
        .iter()
        .filter(|r| {
            let is_address = matches!(r.data, RData::A(_) | RData::Aaaa(_));
            is_address && ns.iter().any(|n| n.data == RData::Ns(r.name.clone()))
        })
        .cloned()
        .collect();
    Lookup::Referral { ns, glue }
}

/// The answer of a server holding `zones`: the zone with the longest origin that contains
/// `qname` answers; `NotAuthoritative` if none does.
pub fn answer(zones: &[Zone], qname: &str, qtype: RecordType) -> Lookup {
    let qname = fqdn(qname);
    zones
        .iter()
        .filter(|z| is_under(&qname, &z.origin))
        .max_by_key(|z| if z.origin == "." { 0 } else { z.origin.len() })
        .map_or(Lookup::NotAuthoritative, |z| lookup(z, &qname, qtype))
}

/// The zones of the book's small hierarchy: the root (`.`) delegates `com.` to 10.0.0.1, which
/// delegates `example.com.` to 10.0.0.2; `www.example.com.` has TTL `www_ttl`. Negative answers
/// from `example.com.` are cacheable for 60 s (SOA TTL 3600, MINIMUM 60).
pub fn book_zones(www_ttl: u32) -> (Zone, Zone, Zone) {
    let day = 86_400;
    let root = Zone::new(".", day, day)
        .with(".", day, RData::Ns("a.root-servers.test.".into()))
        .with("com.", 172_800, RData::Ns("a.gtld-servers.com.".into()))
        .with(
            "a.gtld-servers.com.",
            172_800,
            RData::A(Ipv4Addr::new(10, 0, 0, 1)),
        );
    let com = Zone::new("com.", 900, 900)
        .with("com.", 172_800, RData::Ns("a.gtld-servers.com.".into()))
        .with(
            "example.com.",
            172_800,
            RData::Ns("ns1.example.com.".into()),
        )
        .with(
            "ns1.example.com.",
            172_800,
            RData::A(Ipv4Addr::new(10, 0, 0, 2)),
        );
    let example = Zone::new("example.com.", 3_600, 60)
        .with("example.com.", day, RData::Ns("ns1.example.com.".into()))
        .with(
            "ns1.example.com.",
            day,
            RData::A(Ipv4Addr::new(10, 0, 0, 2)),
        )
        .with(
            "www.example.com.",
            www_ttl,
            RData::A(Ipv4Addr::new(192, 0, 2, 1)),
        )
        .with(
            "www.example.com.",
            www_ttl,
            RData::Aaaa("2001:db8::1".parse().expect("literal")),
        )
        .with(
            "api.v1.example.com.",
            300,
            RData::A(Ipv4Addr::new(192, 0, 2, 10)),
        );
    (root, com, example)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Zone {
        book_zones(300).2
    }

    #[test]
    fn an_existing_name_and_type_is_answered() {
        let Lookup::Answer(rs) = lookup(&example(), "WWW.Example.com", RecordType::A) else {
            panic!("expected an answer");
        };
        assert_eq!(rs.len(), 1);
        assert_eq!(rs[0].data, RData::A(Ipv4Addr::new(192, 0, 2, 1)));
    }

    #[test]
    fn negative_answers_carry_the_soa_with_the_smaller_ttl() {
        let zone = example();
        for (q, t) in [
            ("nope.example.com.", RecordType::A),
            ("www.example.com.", RecordType::Ns),
        ] {
            let soa = match lookup(&zone, q, t) {
                Lookup::NxDomain { soa } | Lookup::NoData { soa } => soa,
                other => panic!("{q}: {other:?}"),
            };
            assert_eq!(soa.ttl, 60, "min(3600, 60)");
        }
        assert!(matches!(
            lookup(&zone, "nope.example.com.", RecordType::A),
            Lookup::NxDomain { .. }
        ));
        // An empty non-terminal exists: NODATA, not NXDOMAIN.
        assert!(matches!(
            lookup(&zone, "v1.example.com.", RecordType::A),
            Lookup::NoData { .. }
        ));
        assert!(matches!(
            lookup(&zone, "www.example.com.", RecordType::Other(15)),
            Lookup::NoData { .. }
        ));
    }

    #[test]
    fn names_below_a_delegation_get_a_referral_with_glue() {
        let (root, com, _) = book_zones(300);
        let Lookup::Referral { ns, glue } = lookup(&root, "www.example.com.", RecordType::A) else {
            panic!("expected a referral");
        };
        assert_eq!(ns[0].name, "com.");
        assert_eq!(glue[0].data, RData::A(Ipv4Addr::new(10, 0, 0, 1)));
        let Lookup::Referral { ns, .. } = lookup(&com, "www.example.com.", RecordType::A) else {
            panic!("expected a referral");
        };
        assert_eq!(ns[0].name, "example.com.");
        assert_eq!(
            lookup(&com, "example.org.", RecordType::A),
            Lookup::NotAuthoritative
        );
    }

    #[test]
    fn the_most_specific_zone_answers() {
        let (root, com, example) = book_zones(300);
        let zones = [root, com, example];
        assert!(matches!(
            answer(&zones, "www.example.com.", RecordType::A),
            Lookup::Answer(_)
        ));
        assert!(matches!(
            answer(&zones, "nope.com.", RecordType::A),
            Lookup::NxDomain { .. }
        ));
    }

    #[test]
    fn names_are_normalised() {
        assert_eq!(fqdn("WWW.example.COM"), "www.example.com.");
        assert_eq!(fqdn(""), ".");
        assert_eq!(parent("www.example.com."), Some("example.com."));
        assert_eq!(parent("com."), Some("."));
        assert_eq!(parent("."), None);
        assert!(is_under("www.example.com.", "com."));
        assert!(!is_under("www.notexample.com.", "example.com."));
    }
}
