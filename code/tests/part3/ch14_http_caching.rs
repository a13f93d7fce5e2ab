//! Chapter 14's claims: RFC 9111's rules, each table row naming its section; properties of the
//! parser and the age rule; and the real proxy in front of the real origin on loopback
//! (coalescing, revalidation with 304, privacy, malformed headers, stale-if-error, eviction).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use proptest::prelude::*;
use uds::scalability::http_caching::cache_control::{CacheControl, DELTA_SECONDS_MAX};
use uds::scalability::http_caching::clock::{Clock, EXPERIMENT_EPOCH, ManualClock};
use uds::scalability::http_caching::exercise::{check_current_age, solution, starter};
use uds::scalability::http_caching::freshness::{
    AgeInputs, FreshnessInputs, Staleness, current_age, freshness_lifetime, staleness,
};
use uds::scalability::http_caching::origin::{Origin, OriginConfig};
use uds::scalability::http_caching::policy::{
    Headers, NotStorable, age, fmt_http_date, freshen, lifetime, may_serve_stale, storable,
    validation_headers, vary_key, vary_matches,
};
use uds::scalability::http_caching::proxy::Proxy;
use uds::scalability::http_caching::store::{LruStore, StoredResponse};

fn h(pairs: &[(&str, &str)]) -> Headers {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

// ---------------------------------------------------------------- Cache-Control (§5.2, §1.2.2)

#[test]
fn cache_control_parses_as_rfc_9111_says() {
    let cc = |s: &str| CacheControl::parse([s]);
    let rows: Vec<(&str, &str, CacheControl)> = vec![
        (
            "§5.2.2.1 max-age",
            "max-age=60",
            CacheControl {
                max_age: Some(60),
                ..Default::default()
            },
        ),
        (
            "§5.2 names are case-insensitive",
            "MAX-AGE=5",
            CacheControl {
                max_age: Some(5),
                ..Default::default()
            },
        ),
        (
            "§5.2 quoted value",
            "max-age=\"7\"",
            CacheControl {
                max_age: Some(7),
                ..Default::default()
            },
        ),
        (
            "§1.2.2 overflow is 2^31",
            "max-age=99999999999999999999999",
            CacheControl {
                max_age: Some(DELTA_SECONDS_MAX),
                ..Default::default()
            },
        ),
        (
            "§4.2.1 non-integer max-age is invalid",
            "max-age=abc",
            CacheControl {
                invalid_freshness: true,
                ..Default::default()
            },
        ),
        (
            "§4.2.1 negative max-age is invalid",
            "max-age=-1",
            CacheControl {
                invalid_freshness: true,
                ..Default::default()
            },
        ),
        (
            "§4.2.1 conflicting duplicates are invalid",
            "max-age=5, max-age=10",
            CacheControl {
                max_age: Some(5),
                invalid_freshness: true,
                ..Default::default()
            },
        ),
        (
            "§4.2.1 identical duplicates are fine",
            "max-age=5, max-age=5",
            CacheControl {
                max_age: Some(5),
                ..Default::default()
            },
        ),
        (
            "§5.2.2.10 s-maxage",
            "s-maxage=30, max-age=5",
            CacheControl {
                max_age: Some(5),
                s_maxage: Some(30),
                ..Default::default()
            },
        ),
        (
            "§5.2.2.4 no-cache with field names is no-cache",
            "no-cache=\"set-cookie, x\"",
            CacheControl {
                no_cache: true,
                ..Default::default()
            },
        ),
        (
            "§5.2.2.5 no-store",
            "no-store",
            CacheControl {
                no_store: true,
                ..Default::default()
            },
        ),
        (
            "§5.2.2.7 private",
            "private",
            CacheControl {
                private: true,
                ..Default::default()
            },
        ),
        (
            "§5.2.2.9 public, §5.2.2.2 must-revalidate",
            "public, must-revalidate",
            CacheControl {
                public: true,
                must_revalidate: true,
                ..Default::default()
            },
        ),
        (
            "§5.2.3 unknown extensions are ignored",
            "foo=\"a,b\", bar, max-age=3",
            CacheControl {
                max_age: Some(3),
                ..Default::default()
            },
        ),
        (
            "RFC 5861 §3, §4 stale windows",
            "stale-while-revalidate=30, stale-if-error=600",
            CacheControl {
                stale_while_revalidate: Some(30),
                stale_if_error: Some(600),
                ..Default::default()
            },
        ),
        (
            "RFC 5861 malformed window grants nothing",
            "stale-if-error=soon",
            CacheControl::default(),
        ),
        (
            "RFC 9110 §5.6.1 empty list members",
            ", ,max-age=1,,",
            CacheControl {
                max_age: Some(1),
                ..Default::default()
            },
        ),
    ];
    for (section, input, expected) in rows {
        assert_eq!(cc(input), expected, "{section}: Cache-Control: {input}");
    }
    // Several header lines combine into one list (RFC 9110 §5.3).
    let two = CacheControl::parse(["max-age=9", "private"]);
    assert_eq!((two.max_age, two.private), (Some(9), true));
}

proptest! {
    /// No string, however malformed, makes the parser panic; and a malformed max-age never
    /// yields a positive lifetime.
    #[test]
    fn no_cache_control_string_panics(s in ".{0,80}") {
        let cc = CacheControl::parse([s.as_str()]);
        let headers = h(&[("cache-control", s.as_str()), ("date", "garbage")]);
        let life = lifetime(200, &headers, EXPERIMENT_EPOCH);
        if cc.invalid_freshness {
            prop_assert_eq!(life, 0);
        }
    }

    /// The current age never goes below the resident time nor below the Age received, and
    /// never panics (it is unsigned and saturates).
    #[test]
    fn age_is_never_below_what_was_observed(
        age_value in any::<u64>(), date in any::<u64>(), req in any::<u64>(),
        resp in any::<u64>(), now in any::<u64>(),
    ) {
        let a = AgeInputs { age_value, date_value: date, request_time: req, response_time: resp };
        let got = current_age(&a, now);
        prop_assert!(got >= age_value);
        prop_assert!(got >= now.saturating_sub(resp));
        prop_assert_eq!(got, solution::current_age(&a, now));
    }
}

// ------------------------------------------------------------------- Freshness (§4.2.1-§4.2.3)

#[test]
fn freshness_lifetime_follows_section_4_2_1() {
    let base = FreshnessInputs {
        date: Some(1000),
        ..Default::default()
    };
    let rows: Vec<(&str, FreshnessInputs, bool, u64)> = vec![
        (
            "s-maxage wins in a shared cache",
            FreshnessInputs {
                s_maxage: Some(30),
                max_age: Some(5),
                ..base
            },
            true,
            30,
        ),
        (
            "s-maxage ignored by a private cache",
            FreshnessInputs {
                s_maxage: Some(30),
                max_age: Some(5),
                ..base
            },
            false,
            5,
        ),
        (
            "max-age beats Expires",
            FreshnessInputs {
                max_age: Some(5),
                expires: Some(2000),
                ..base
            },
            true,
            5,
        ),
        (
            "Expires minus Date",
            FreshnessInputs {
                expires: Some(1060),
                ..base
            },
            true,
            60,
        ),
        (
            "Expires in the past: 0",
            FreshnessInputs {
                expires: Some(900),
                ..base
            },
            true,
            0,
        ),
        (
            "§4.2.2 heuristic: 10% since Last-Modified",
            FreshnessInputs {
                last_modified: Some(0),
                heuristic_allowed: true,
                ..base
            },
            true,
            100,
        ),
        (
            "§4.2.2 heuristic capped at one day",
            FreshnessInputs {
                date: Some(10_000_000),
                last_modified: Some(0),
                heuristic_allowed: true,
                ..base
            },
            true,
            86_400,
        ),
        (
            "§4.2.2 no heuristic for other statuses",
            FreshnessInputs {
                last_modified: Some(0),
                ..base
            },
            true,
            0,
        ),
        ("nothing: 0", base, true, 0),
    ];
    for (what, inputs, shared, expected) in rows {
        assert_eq!(
            freshness_lifetime(&inputs, shared),
            expected,
            "RFC 9111 §4.2.1, {what}"
        );
    }
}

#[test]
fn lifetime_from_headers_treats_bad_information_as_stale() {
    let date = fmt_http_date(EXPERIMENT_EPOCH);
    let expires = fmt_http_date(EXPERIMENT_EPOCH + 90);
    let rows: Vec<(&str, Headers, u64)> = vec![
        (
            "§5.3 Expires",
            h(&[("date", &date), ("expires", &expires)]),
            90,
        ),
        (
            "§5.3 invalid Expires means expired",
            h(&[("date", &date), ("expires", "0")]),
            0,
        ),
        (
            "§5.2.2.4 no-cache: validate every time",
            h(&[("cache-control", "no-cache, max-age=60")]),
            0,
        ),
        (
            "§4.2.1 invalid max-age: stale",
            h(&[("cache-control", "max-age=1x")]),
            0,
        ),
        (
            "§4.2.1 max-age over Expires",
            h(&[("cache-control", "max-age=7"), ("expires", &expires)]),
            7,
        ),
    ];
    for (section, headers, expected) in rows {
        assert_eq!(
            lifetime(200, &headers, EXPERIMENT_EPOCH),
            expected,
            "{section}"
        );
    }
}

#[test]
fn current_age_follows_section_4_2_3() {
    check_current_age(current_age);
}

#[test]
fn age_header_is_read_as_section_5_1_says() {
    // Arrived at 100 with Date 100 and no delay, read at 100: the age is the Age header's value.
    let rows: Vec<(&str, &str, u64)> = vec![
        ("§5.1 delta-seconds", "30", 30),
        ("§5.1 list: first member", "7, 9", 7),
        ("§5.1 invalid: ignored", "abc", 0),
        ("§5.1 negative is invalid: ignored", "-5", 0),
        (
            "§1.2.2 too large: 2^31, never young",
            "99999999999999999999999",
            DELTA_SECONDS_MAX,
        ),
    ];
    let date = fmt_http_date(100);
    for (section, value, expected) in rows {
        let response = h(&[("age", value), ("date", &date)]);
        assert_eq!(
            age(&response, 100, 100, 100),
            expected,
            "RFC 9111 {section}"
        );
    }
}

#[test]
fn revalidation_directives_forbid_serving_stale() {
    let rows: Vec<(&str, &str, bool)> = vec![
        (
            "RFC 5861 windows alone",
            "max-age=5, stale-while-revalidate=30",
            true,
        ),
        (
            "§5.2.2.4 no-cache",
            "no-cache, stale-while-revalidate=30",
            false,
        ),
        (
            "§5.2.2.2 must-revalidate",
            "max-age=5, must-revalidate",
            false,
        ),
        (
            "§5.2.2.8 proxy-revalidate",
            "max-age=5, proxy-revalidate",
            false,
        ),
        ("§5.2.2.10 s-maxage", "s-maxage=5, stale-if-error=60", false),
    ];
    for (section, cc, expected) in rows {
        let parsed = CacheControl::parse([cc]);
        assert_eq!(
            may_serve_stale(&parsed),
            expected,
            "RFC 9111 §4.2.4, {section}: {cc}"
        );
    }
}

#[test]
fn staleness_classifies_with_rfc_5861_windows() {
    assert_eq!(staleness(60, 10, None), Staleness::Fresh { ttl: 50 });
    assert_eq!(
        staleness(60, 60, None),
        Staleness::Stale { stale_for: 0 },
        "§4.2: fresh only below"
    );
    assert_eq!(
        staleness(0, 0, None),
        Staleness::Stale { stale_for: 0 },
        "max-age=0"
    );
    assert_eq!(
        staleness(60, 70, Some(30)),
        Staleness::ServeWhileRevalidating { stale_for: 10 }
    );
    assert_eq!(
        staleness(60, 90, Some(30)),
        Staleness::Stale { stale_for: 30 },
        "window is over"
    );
}

#[test]
#[ignore = "exercise: implement starter::current_age, then run `cargo test -p uds --release \
            --test part3 ch14_http_caching::exercise_current_age -- --ignored`"]
fn exercise_current_age() {
    uds::exercise::starter_or_solution(
        || check_current_age(starter::current_age),
        || check_current_age(solution::current_age),
    );
}

// --------------------------------------------------------------- Storing, Vary, validation

/// Section, method, request header fields, status, response header fields, expected.
type StorableRow<'a> = (
    &'a str,
    &'a str,
    &'a Headers,
    u16,
    Headers,
    Result<(), NotStorable>,
);

#[test]
fn storability_follows_section_3() {
    let none = h(&[]);
    let bearer = h(&[("authorization", "Bearer alice")]);
    let rows: Vec<StorableRow> = vec![
        (
            "§3 GET 200 max-age",
            "GET",
            &none,
            200,
            h(&[("cache-control", "max-age=5")]),
            Ok(()),
        ),
        (
            "§3 method",
            "POST",
            &none,
            200,
            h(&[("cache-control", "max-age=5")]),
            Err(NotStorable::Method),
        ),
        (
            "§3 partial content",
            "GET",
            &none,
            206,
            h(&[("cache-control", "max-age=5")]),
            Err(NotStorable::Status),
        ),
        (
            "§5.2.2.5 no-store",
            "GET",
            &none,
            200,
            h(&[("cache-control", "no-store, max-age=5")]),
            Err(NotStorable::NoStore),
        ),
        (
            "§5.2.2.7 private in a shared cache",
            "GET",
            &none,
            200,
            h(&[("cache-control", "private, max-age=5")]),
            Err(NotStorable::Private),
        ),
        (
            "§3.5 Authorization without permission",
            "GET",
            &bearer,
            200,
            h(&[("cache-control", "max-age=5")]),
            Err(NotStorable::Authorization),
        ),
        (
            "§3.5 Authorization with public",
            "GET",
            &bearer,
            200,
            h(&[("cache-control", "public, max-age=5")]),
            Ok(()),
        ),
        (
            "§3.5 Authorization with s-maxage",
            "GET",
            &bearer,
            200,
            h(&[("cache-control", "s-maxage=5")]),
            Ok(()),
        ),
        (
            "§3 heuristically cacheable 404",
            "GET",
            &none,
            404,
            h(&[]),
            Ok(()),
        ),
        (
            "§3 nothing permits a 302",
            "GET",
            &none,
            302,
            h(&[]),
            Err(NotStorable::NoPermission),
        ),
        (
            "§3 Expires permits a 302",
            "GET",
            &none,
            302,
            h(&[("expires", "Thu, 01 Jan 2099 00:00:00 GMT")]),
            Ok(()),
        ),
    ];
    for (section, method, request, status, response, expected) in rows {
        assert_eq!(
            storable(method, request, status, &response),
            expected,
            "RFC 9111 {section}"
        );
    }
    let request_no_store = h(&[("cache-control", "no-store")]);
    let ok = h(&[("cache-control", "max-age=5")]);
    assert_eq!(
        storable("GET", &request_no_store, 200, &ok),
        Err(NotStorable::NoStore),
        "§5.2.1.5"
    );
}

#[test]
fn vary_selects_by_request_header_values() {
    let response = h(&[("vary", "Accept-Language, accept-encoding")]);
    let fr = h(&[("accept-language", "fr")]);
    let key = vary_key(&response, &fr).expect("not Vary: *");
    assert!(vary_matches(&key, &fr), "§4.1 same values match");
    assert!(
        !vary_matches(&key, &h(&[("accept-language", "en")])),
        "§4.1 other value"
    );
    assert!(!vary_matches(&key, &h(&[])), "§4.1 absent is not present");
    let both = h(&[("accept-language", "fr"), ("accept-encoding", "gzip")]);
    assert!(
        !vary_matches(&key, &both),
        "§4.1 every listed field must match"
    );
    assert_eq!(
        vary_key(&h(&[("vary", "*")]), &fr),
        None,
        "§4.1 Vary: * never matches"
    );
}

#[test]
fn validation_uses_etag_then_last_modified_and_304_freshens() {
    let with_etag = h(&[
        ("etag", "\"v1\""),
        ("last-modified", "Mon, 01 Jan 2024 00:00:00 GMT"),
    ]);
    assert_eq!(
        validation_headers(&with_etag),
        h(&[("if-none-match", "\"v1\"")]),
        "§4.3.1"
    );
    let lm = h(&[("last-modified", "Mon, 01 Jan 2024 00:00:00 GMT")]);
    let expected = h(&[("if-modified-since", "Mon, 01 Jan 2024 00:00:00 GMT")]);
    assert_eq!(validation_headers(&lm), expected, "§4.3.1 fallback");
    assert!(
        validation_headers(&h(&[])).is_empty(),
        "§4.3.1 no validator: fetch whole"
    );
    let mut stored = h(&[
        ("cache-control", "max-age=5"),
        ("content-length", "10"),
        ("x", "1"),
    ]);
    freshen(
        &mut stored,
        &h(&[("cache-control", "max-age=60"), ("content-length", "0")]),
    );
    let expected = h(&[
        ("content-length", "10"),
        ("x", "1"),
        ("cache-control", "max-age=60"),
    ]);
    assert_eq!(
        stored, expected,
        "§3.2: 304 fields replace, Content-Length kept"
    );
}

#[test]
fn lru_store_evicts_the_least_recently_used() {
    let response = |body: &str| StoredResponse {
        status: 200,
        headers: Headers::new(),
        body: body.as_bytes().to_vec(),
        vary: Headers::new(),
        request_time: 0,
        response_time: 0,
    };
    let mut store = LruStore::new(2);
    store.insert("/a", response("a"));
    store.insert("/b", response("b"));
    assert!(store.get("/a").is_some()); // /a is now the most recent
    store.insert("/c", response("c"));
    assert!(store.get("/b").is_none(), "/b was least recently used");
    assert!(store.get("/a").is_some() && store.get("/c").is_some());
    assert_eq!((store.len(), store.evictions), (2, 1));
}

// ------------------------------------------------------------ The real proxy on loopback

struct Setup {
    clock: ManualClock,
    origin: Origin,
    proxy: Proxy,
    client: reqwest::Client,
}

async fn setup(cache_control: &str, capacity: usize) -> Setup {
    let clock = ManualClock::at(EXPERIMENT_EPOCH);
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let config = OriginConfig {
        cache_control: cache_control.to_string(),
        ..OriginConfig::default()
    };
    let hint = "cargo test -p uds --release --test part3 ch14_http_caching";
    let origin = Origin::start(shared.clone(), config)
        .await
        .unwrap_or_else(|e| panic!("cannot start the origin on 127.0.0.1 ({e}); rerun: {hint}"));
    let proxy = Proxy::start(shared, &origin.url(), capacity)
        .await
        .unwrap_or_else(|e| panic!("cannot start the proxy on 127.0.0.1 ({e}); rerun: {hint}"));
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    Setup {
        clock,
        origin,
        proxy,
        client,
    }
}

impl Setup {
    /// GET through the proxy: status, Cache-Status, Age, body.
    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String, String, String) {
        let url = format!("{}{path}", self.proxy.url());
        let headers = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        fetch(self.client.clone(), url, headers).await
    }

    fn origin_requests(&self) -> u64 {
        self.origin.stats().requests.load(Ordering::SeqCst)
    }

    async fn stop(self) {
        self.proxy.stop().await.expect("proxy stops");
        self.origin.stop().await.expect("origin stops");
    }
}

/// GET `url` with `headers`: status, Cache-Status, Age, body.
async fn fetch(
    client: reqwest::Client,
    url: String,
    headers: Vec<(String, String)>,
) -> (u16, String, String, String) {
    let mut request = client.get(url);
    for (n, v) in headers {
        request = request.header(n, v);
    }
    let response = request.send().await.expect("the proxy answers");
    let header = |name: &str| {
        let value = response.headers().get(name);
        value
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (status, cs, age) = (
        response.status().as_u16(),
        header("cache-status"),
        header("age"),
    );
    let body = response.text().await.expect("a body");
    (status, cs, age, body)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

#[test]
fn hit_then_stale_then_304_revalidation() {
    rt().block_on(async {
        let s = setup("max-age=10", 100).await;
        let (status, cs, age, _) = s.get("/objects/1", &[]).await;
        assert_eq!(
            (status, cs.as_str(), age.as_str()),
            (200, "uds; fwd=uri-miss; fwd-status=200; stored", "0")
        );
        s.clock.advance(4);
        let (_, cs, age, _) = s.get("/objects/1", &[]).await;
        assert_eq!(
            (cs.as_str(), age.as_str()),
            ("uds; hit; ttl=6", "4"),
            "§4.2 fresh: a hit"
        );
        s.clock.advance(6);
        let (status, cs, age, body) = s.get("/objects/1", &[]).await;
        assert_eq!(status, 200);
        assert_eq!(
            cs, "uds; fwd=stale; fwd-status=304; stored",
            "§4.3: stale, revalidated"
        );
        assert_eq!(age, "0", "§4.3.4: freshened copy is new");
        assert!(body.starts_with("object 1 version 0"));
        assert_eq!(s.origin.stats().not_modified.load(Ordering::SeqCst), 1);
        assert_eq!(
            s.origin.stats().full.load(Ordering::SeqCst),
            1,
            "one body sent in all"
        );
        // A POST changes the object and invalidates the stored copy (§4.4).
        let post = s
            .client
            .post(format!("{}/objects/1", s.proxy.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(post.status().as_u16(), 204);
        let (_, cs, _, body) = s.get("/objects/1", &[]).await;
        assert_eq!(cs, "uds; fwd=uri-miss; fwd-status=200; stored");
        assert!(body.starts_with("object 1 version 1"), "{body}");
        s.stop().await;
    });
}

#[test]
fn concurrent_misses_on_one_key_reach_the_origin_once() {
    rt().block_on(async {
        let s = setup("max-age=60", 100).await;
        s.origin.configure(|c| c.delay_ms = 200);
        let n = 20;
        let url = format!("{}/objects/42", s.proxy.url());
        let gets = (0..n).map(|_| fetch(s.client.clone(), url.clone(), Vec::new()));
        let answers = futures_join_all(gets).await;
        assert_eq!(
            s.origin_requests(),
            1,
            "single flight: the origin saw one request"
        );
        let collapsed = answers.iter().filter(|a| a.1.contains("collapsed")).count();
        assert_eq!(collapsed, n - 1, "{answers:?}");
        assert!(
            answers
                .iter()
                .all(|a| a.0 == 200 && a.3.starts_with("object 42"))
        );
        s.stop().await;
    });
}

/// Runs the futures concurrently on the runtime (no `futures` crate needed).
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    fs: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send,
{
    let mut set = Vec::new();
    for f in fs {
        set.push(tokio::spawn(f));
    }
    let mut out = Vec::new();
    for task in set {
        out.push(task.await.expect("task"));
    }
    out
}

#[test]
fn private_and_authorization_responses_are_never_shared() {
    rt().block_on(async {
        let s = setup("max-age=60", 100).await;
        for path in ["/private/1", "/auth/1"] {
            let (_, cs, _, alice) = s.get(path, &[("authorization", "Bearer alice")]).await;
            assert!(!cs.contains("stored"), "{path}: {cs}");
            let (_, cs, _, bob) = s.get(path, &[("authorization", "Bearer bob")]).await;
            assert!(
                cs.contains("fwd=uri-miss"),
                "{path} is not served from the store: {cs}"
            );
            assert!(alice.contains("alice") && bob.contains("bob") && !bob.contains("alice"));
            let (_, _, _, anonymous) = s.get(path, &[]).await;
            assert!(
                !anonymous.contains("alice") && !anonymous.contains("bob"),
                "{anonymous}"
            );
        }
        s.stop().await;
    });
}

/// The origin's `/raw` path answering with `Cache-Control: cc`, every byte percent-encoded.
fn raw_path(cc: &str) -> String {
    let encoded: String = cc.bytes().map(|b| format!("%{b:02X}")).collect();
    format!("/raw?cc={encoded}")
}

#[test]
fn malformed_cache_control_from_the_origin_never_panics_and_is_stale() {
    rt().block_on(async {
        let s = setup("max-age=60", 100).await;
        for cc in [
            "max-age=abc",
            "max-age=5, max-age=6",
            "max-age=\"",
            ",,,=",
            "max-age=-1",
            "max-age=999999999999999999999999",
            "no-store=1, private=\"",
            "\u{7f}",
        ] {
            let path = raw_path(cc);
            let (status, first, _, _) = s.get(&path, &[]).await;
            let (_, second, _, _) = s.get(&path, &[]).await;
            assert!(status == 200 || status == 400, "{cc:?}: {status}");
            if cc.contains("abc") || cc.contains("max-age=5,") || cc.contains("-1") {
                assert!(
                    !second.contains("hit"),
                    "{cc:?}: invalid freshness is stale: {second}"
                );
            }
            assert!(!first.is_empty() && !second.is_empty());
        }
        // The overflowing max-age is a long lifetime (§1.2.2): a hit.
        let path = raw_path("max-age=999999999999999999999999");
        let (_, cs, _, _) = s.get(&path, &[]).await;
        assert!(cs.contains("hit"), "{cs}");
        s.stop().await;
    });
}

#[test]
fn vary_stores_one_response_per_language() {
    rt().block_on(async {
        let s = setup("max-age=60", 100).await;
        let (_, _, _, fr) = s.get("/vary/1", &[("accept-language", "fr")]).await;
        let (_, cs, _, en) = s.get("/vary/1", &[("accept-language", "en")]).await;
        assert_eq!((fr.as_str(), en.as_str()), ("bonjour\n", "hello\n"));
        assert!(cs.contains("fwd=vary-miss"), "{cs}");
        let (_, cs, _, fr) = s.get("/vary/1", &[("accept-language", "fr")]).await;
        assert!(cs.starts_with("uds; hit") && fr == "bonjour\n", "{cs}");
        s.stop().await;
    });
}

#[test]
fn stale_if_error_hides_an_origin_failure_for_its_window() {
    rt().block_on(async {
        let s = setup("max-age=10, stale-if-error=100", 100).await;
        s.get("/objects/3", &[]).await;
        s.origin.configure(|c| c.failing = true);
        s.clock.advance(50);
        let (status, cs, _, _) = s.get("/objects/3", &[]).await;
        assert_eq!(status, 200, "RFC 5861 §4: served stale");
        assert_eq!(cs, "uds; fwd=stale; fwd-status=503; detail=stale-if-error");
        s.clock.advance(100);
        let (status, _, _, _) = s.get("/objects/3", &[]).await;
        assert_eq!(status, 503, "past the window the error goes through");
        s.stop().await;
    });
}

#[test]
fn stale_windows_yield_to_revalidation_directives_in_the_proxy() {
    rt().block_on(async {
        for cc in [
            "s-maxage=10, stale-while-revalidate=30",
            "max-age=10, proxy-revalidate, stale-while-revalidate=30",
            "no-cache, stale-while-revalidate=30",
        ] {
            let s = setup(cc, 100).await;
            s.get("/objects/5", &[]).await;
            s.clock.advance(15);
            let (_, cs, _, _) = s.get("/objects/5", &[]).await;
            assert_eq!(
                cs, "uds; fwd=stale; fwd-status=304; stored",
                "RFC 9111 §4.2.4, {cc}: validated, not served stale"
            );
            s.stop().await;
        }
        let s = setup("s-maxage=10, stale-if-error=100", 100).await;
        s.get("/objects/3", &[]).await;
        s.origin.configure(|c| c.failing = true);
        s.clock.advance(50);
        let (status, cs, _, _) = s.get("/objects/3", &[]).await;
        assert_eq!(
            status, 503,
            "§5.2.2.10 s-maxage forbids stale-if-error: {cs}"
        );
        s.stop().await;
    });
}

#[test]
fn safe_methods_do_not_invalidate() {
    rt().block_on(async {
        let s = setup("max-age=60", 100).await;
        s.get("/objects/2", &[]).await;
        let url = format!("{}/objects/2", s.proxy.url());
        let head = s.client.head(&url).send().await.expect("HEAD answered");
        assert!(head.status().is_success(), "{}", head.status());
        let (_, cs, _, _) = s.get("/objects/2", &[]).await;
        assert!(
            cs.starts_with("uds; hit"),
            "RFC 9111 §4.4: HEAD is safe: {cs}"
        );
        s.stop().await;
    });
}

#[test]
fn stale_while_revalidate_answers_at_once_and_refreshes_behind() {
    rt().block_on(async {
        let s = setup("max-age=10, stale-while-revalidate=30", 100).await;
        s.get("/objects/5", &[]).await;
        s.clock.advance(15);
        let (_, cs, _, _) = s.get("/objects/5", &[]).await;
        assert_eq!(cs, "uds; hit; ttl=-5; detail=stale-while-revalidate");
        for _ in 0..100 {
            if s.proxy.stats().not_modified.load(Ordering::SeqCst) == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let (_, cs, _, _) = s.get("/objects/5", &[]).await;
        assert_eq!(cs, "uds; hit; ttl=10", "the background 304 freshened it");
        s.stop().await;
    });
}
