//! Parsing `Cache-Control` (RFC 9111 §5.2) as a cache must: leniently, and never trusting it.
//!
//! The header is a comma-separated list of directives, each a case-insensitive token with an
//! optional `=value`, the value a token or a quoted string (§5.2). Origins get it wrong in
//! every way: duplicate directives, `max-age=abc`, `max-age=-1`, numbers past any integer
//! type, unterminated quotes, empty members. The rules for those cases:
//!
//! - A delta-seconds value too large for the recipient is replaced by 2147483648 (2^31,
//!   §1.2.2): a huge `max-age` means "fresh for a long time", never an overflow.
//! - A `max-age` or `s-maxage` that is not a non-negative integer, or that appears twice with
//!   different values, makes the freshness information invalid; §4.2.1 allows treating such a
//!   response as stale, and that is what [`CacheControl::invalid_freshness`] makes the policy
//!   do. It is the conservative choice: the cache asks the origin instead of guessing.
//! - An unknown directive is ignored (§5.2.3); a directive that carries no meaning with a
//!   value (`no-store=5`) still counts, as the most restrictive reading.
//! - `no-cache` and `private` with a list of field names (`private="Set-Cookie"`) are treated
//!   as unqualified: allowed by §5.2.2.4 and §5.2.2.7, and the stricter reading.
//!
//! Parsing is total: every input string, however malformed, yields a [`CacheControl`].

/// The value substituted for a delta-seconds too large to represent (RFC 9111 §1.2.2).
pub const DELTA_SECONDS_MAX: u64 = 2_147_483_648;

// ANCHOR: cache_control
/// The directives of one or more `Cache-Control` header lines that a cache acts on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheControl {
    /// `max-age=N` (§5.2.2.1 in a response, §5.2.1.1 in a request).
    pub max_age: Option<u64>,
    /// `s-maxage=N` (§5.2.2.10): overrides `max-age` in shared caches.
    pub s_maxage: Option<u64>,
    /// `no-cache` (§5.2.2.4): may be stored, must be validated before each use.
    pub no_cache: bool,
    /// `no-store` (§5.2.2.5): must not be stored at all.
    pub no_store: bool,
    /// `private` (§5.2.2.7): for one user; a shared cache must not store it.
    pub private: bool,
    /// `public` (§5.2.2.9): may be stored even where it otherwise could not (Authorization).
    pub public: bool,
    /// `must-revalidate` (§5.2.2.2): once stale, never served without validation.
    pub must_revalidate: bool,
    /// `proxy-revalidate` (§5.2.2.8): `must-revalidate` for shared caches only.
    pub proxy_revalidate: bool,
    /// `stale-while-revalidate=N` (RFC 5861 §3).
    pub stale_while_revalidate: Option<u64>,
    /// `stale-if-error=N` (RFC 5861 §4).
    pub stale_if_error: Option<u64>,
    /// A `max-age` or `s-maxage` was malformed or given twice with different values: the
    /// response is to be treated as stale (§4.2.1).
    pub invalid_freshness: bool,
}
// ANCHOR_END: cache_control

/// A parsed delta-seconds, or why it is not one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delta {
    Seconds(u64),
    Invalid,
}

/// Parses delta-seconds (§1.2.2): one or more ASCII digits, saturating at 2^31.
fn delta_seconds(value: Option<&str>) -> Delta {
    let Some(v) = value else {
        return Delta::Invalid;
    };
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Delta::Invalid;
    }
    let mut n: u64 = 0;
    for b in v.bytes() {
        n = n.saturating_mul(10).saturating_add(u64::from(b - b'0'));
        if n > DELTA_SECONDS_MAX {
            return Delta::Seconds(DELTA_SECONDS_MAX);
        }
    }
    Delta::Seconds(n)
}

/// Records a freshness directive: the first valid value wins; a second, different value or a
/// malformed one marks the freshness information invalid.
fn set_freshness(slot: &mut Option<u64>, invalid: &mut bool, value: Option<&str>) {
    match (delta_seconds(value), *slot) {
        (Delta::Invalid, _) => *invalid = true,
        (Delta::Seconds(n), None) => *slot = Some(n),
        (Delta::Seconds(n), Some(old)) if n != old => *invalid = true,
        (Delta::Seconds(_), Some(_)) => {}
    }
}

/// Splits a header value into members at commas outside quoted strings, keeping escapes.
fn members(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&value[start..]);
    out
}

/// Removes surrounding double quotes, if both are there.
fn unquote(v: &str) -> &str {
    v.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(v)
}

// ANCHOR: parse
impl CacheControl {
    /// Parses every `Cache-Control` line of a message (their lists concatenate, RFC 9110
    /// §5.3). Never fails: unknown directives are ignored, malformed freshness is recorded.
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a str>) -> CacheControl {
        let mut cc = CacheControl::default();
        for line in lines {
            for member in members(line) {
                let member = member.trim();
                if member.is_empty() {
                    continue; // "a,,b" has empty list elements; RFC 9110 §5.6.1 ignores them
                }
                let (name, value) = match member.split_once('=') {
                    Some((n, v)) => (n.trim(), Some(unquote(v.trim()))),
                    None => (member, None),
                };
                cc.apply(&name.to_ascii_lowercase(), value);
            }
        }
        cc
    }

    fn apply(&mut self, name: &str, value: Option<&str>) {
        let invalid = &mut self.invalid_freshness;
        match name {
            "max-age" => set_freshness(&mut self.max_age, invalid, value),
            "s-maxage" => set_freshness(&mut self.s_maxage, invalid, value),
            "no-cache" => self.no_cache = true,
            "no-store" => self.no_store = true,
            "private" => self.private = true,
            "public" => self.public = true,
            "must-revalidate" => self.must_revalidate = true,
            "proxy-revalidate" => self.proxy_revalidate = true,
            // A malformed stale window grants nothing (the conservative reading).
            "stale-while-revalidate" => self.stale_while_revalidate = window(value),
            "stale-if-error" => self.stale_if_error = window(value),
            _ => {} // extension directives we do not understand are ignored (§5.2.3)
        }
    }
}
// ANCHOR_END: parse

/// A delta-seconds value (§1.2.2) read from a header such as `Age` (§5.1): `None` unless it
/// is one or more ASCII digits; a value past 2^31 is 2^31, never an overflow.
pub fn delta_seconds_value(value: &str) -> Option<u64> {
    window(Some(value))
}

fn window(value: Option<&str>) -> Option<u64> {
    match delta_seconds(value) {
        Delta::Seconds(n) => Some(n),
        Delta::Invalid => None,
    }
}
