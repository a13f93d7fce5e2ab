//! Chapter 5's claims, checked over real HTTP on loopback with reqwest, and on the simulator.
//!
//! Every test starts its own server on 127.0.0.1, port 0, and stops it at the end. A server
//! that cannot start fails the test with the command that starts one by hand.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, ETAG, IF_MATCH, LOCATION};
use serde_json::{Value, json};
use uds::communication::apis::cursor::encode_cursor;
use uds::communication::apis::problem::{PROBLEM_JSON, Problem};
use uds::communication::apis::retries::{Setup, run};
use uds::communication::apis::server::{MAX_BODY_BYTES, Server};
use uds::communication::apis::types::{Note, NotePage};
use uds::sim::Campaign;

async fn start() -> Server {
    Server::start().await.unwrap_or_else(|e| {
        panic!(
            "cannot start the notes server on 127.0.0.1:0 ({e}); try it by hand with \
             `cargo run --release -p uds --example ch05_server`"
        )
    })
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// POSTs `body` as JSON with an idempotency key.
async fn post(c: &reqwest::Client, url: &str, key: &str, body: Value) -> reqwest::Response {
    c.post(format!("{url}/notes"))
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .expect("POST /notes")
}

/// One row of the bad-input table: a request and the problem it must get.
struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    status: u16,
    problem: &'static str,
}

fn case(name: &'static str, method: &'static str, path: &str) -> Case {
    Case {
        name,
        method,
        path: path.to_string(),
        headers: vec![],
        body: vec![],
        status: 0,
        problem: "",
    }
}

impl Case {
    fn header(mut self, name: &'static str, value: &str) -> Case {
        self.headers.push((name, value.to_string()));
        self
    }
    fn json(self, body: &str) -> Case {
        self.raw(body.as_bytes())
            .header("content-type", "application/json")
    }
    fn raw(mut self, body: &[u8]) -> Case {
        self.body = body.to_vec();
        self
    }
    fn expect(mut self, status: u16, problem: &'static str) -> Case {
        self.status = status;
        self.problem = problem;
        self
    }
}

/// The table: every kind of bad input the chapter names, and what it gets.
fn bad_input_cases(stale_etag_note: u64) -> Vec<Case> {
    let key = ("idempotency-key", "k-bad-input");
    let long_key = "k".repeat(256);
    let big = format!(
        "{{\"title\":\"a\",\"body\":\"{}\"}}",
        "x".repeat(MAX_BODY_BYTES)
    );
    let note = format!("/notes/{stale_etag_note}");
    vec![
        case("malformed JSON", "POST", "/notes")
            .header(key.0, key.1)
            .json("{\"title\": ")
            .expect(400, "malformed-json"),
        case("not JSON at all", "POST", "/notes")
            .header(key.0, key.1)
            .json("title=a")
            .expect(400, "malformed-json"),
        case("invalid UTF-8", "POST", "/notes")
            .header(key.0, key.1)
            .raw(b"{\"title\": \"\xff\"}")
            .header("content-type", "application/json")
            .expect(400, "malformed-json"),
        case("wrong type", "POST", "/notes")
            .header(key.0, key.1)
            .json("{\"title\": 5}")
            .expect(422, "invalid-body"),
        case("missing field", "POST", "/notes")
            .header(key.0, key.1)
            .json("{\"body\": \"b\"}")
            .expect(422, "invalid-body"),
        case("array, not object", "POST", "/notes")
            .header(key.0, key.1)
            .json("[1, 2]")
            .expect(422, "invalid-body"),
        case("unknown field", "POST", "/notes")
            .header(key.0, key.1)
            .json("{\"title\": \"a\", \"titel\": \"b\"}")
            .expect(422, "unknown-field"),
        case("blank title", "POST", "/notes")
            .header(key.0, key.1)
            .json("{\"title\": \"  \"}")
            .expect(422, "validation"),
        case("oversized body", "POST", "/notes")
            .header(key.0, key.1)
            .json(&big)
            .expect(413, "body-too-large"),
        case("text/plain body", "POST", "/notes")
            .header(key.0, key.1)
            .raw(b"{\"title\": \"a\"}")
            .header("content-type", "text/plain")
            .expect(415, "unsupported-media-type"),
        case("no Content-Type", "POST", "/notes")
            .header(key.0, key.1)
            .raw(b"{\"title\": \"a\"}")
            .expect(415, "unsupported-media-type"),
        case("no Idempotency-Key", "POST", "/notes")
            .json("{\"title\": \"a\"}")
            .expect(400, "missing-idempotency-key"),
        case("empty Idempotency-Key", "POST", "/notes")
            .header(key.0, "")
            .json("{\"title\": \"a\"}")
            .expect(400, "invalid-idempotency-key"),
        case("256-byte Idempotency-Key", "POST", "/notes")
            .header(key.0, &long_key)
            .json("{\"title\": \"a\"}")
            .expect(400, "invalid-idempotency-key"),
        case("key reused, other body", "POST", "/notes")
            .header(key.0, "k-first")
            .json("{\"title\": \"not the first body\"}")
            .expect(422, "idempotency-key-reused"),
        case("garbage cursor", "GET", "/notes?cursor=abc").expect(400, "invalid-cursor"),
        case(
            "edited cursor",
            "GET",
            &format!("/notes?cursor={}", edited_cursor()),
        )
        .expect(400, "invalid-cursor"),
        case("limit 0", "GET", "/notes?limit=0").expect(400, "invalid-query"),
        case("limit not a number", "GET", "/notes?limit=ten").expect(400, "invalid-query"),
        case("limit too large", "GET", "/notes?limit=101").expect(400, "invalid-query"),
        case("unknown parameter", "GET", "/notes?offset=20").expect(400, "invalid-query"),
        case("id not a number", "GET", "/notes/abc").expect(400, "invalid-id"),
        case("id zero", "GET", "/notes/0").expect(400, "invalid-id"),
        case("id too large", "GET", "/notes/99999999999999999999").expect(400, "invalid-id"),
        case("no such note", "GET", "/notes/999").expect(404, "not-found"),
        case("no such route", "GET", "/nope").expect(404, "not-found"),
        case("method not allowed", "PATCH", &note).expect(405, "method-not-allowed"),
        case("PUT without If-Match", "PUT", &note)
            .json("{\"title\": \"b\"}")
            .expect(428, "precondition-required"),
        case("unquoted If-Match", "PUT", &note)
            .header("if-match", "1")
            .json("{\"title\": \"b\"}")
            .expect(400, "invalid-if-match"),
        case("stale If-Match", "PUT", &note)
            .header("if-match", "\"1\"")
            .json("{\"title\": \"b\"}")
            .expect(412, "precondition-failed"),
        case("weak If-Match", "DELETE", &note)
            .header("if-match", "W/\"2\"")
            .expect(412, "precondition-failed"),
        case("PUT to a missing note", "PUT", "/notes/999")
            .header("if-match", "*")
            .json("{\"title\": \"b\"}")
            .expect(404, "not-found"),
    ]
}

fn edited_cursor() -> String {
    let mut c = encode_cursor(1);
    c.replace_range(15..16, "2");
    c
}

#[tokio::test]
async fn every_bad_input_gets_a_precise_4xx_problem_never_a_500() {
    let server = start().await;
    let (url, c) = (server.url(), client());
    // Set-up for two rows: a key used once, and a note at version 2 (so "1" is stale).
    assert_eq!(
        post(&c, &url, "k-first", json!({"title": "first"}))
            .await
            .status(),
        201
    );
    let created: Note = post(&c, &url, "k-note", json!({"title": "a"}))
        .await
        .json()
        .await
        .unwrap();
    let put = c.put(format!("{url}/notes/{}", created.id));
    let put = put.header(IF_MATCH, "\"1\"").json(&json!({"title": "b"}));
    assert_eq!(put.send().await.unwrap().status(), 200);
    let creates_before = server.state.lock().unwrap().creates;

    let mut failures = Vec::new();
    let cases = bad_input_cases(created.id);
    for case in &cases {
        let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
        let mut request = c.request(method, format!("{url}{}", case.path));
        for (name, value) in &case.headers {
            request = request.header(*name, value);
        }
        let response = request.body(case.body.clone()).send().await.unwrap();
        let status = response.status().as_u16();
        let media = response.headers().get(CONTENT_TYPE).cloned();
        let text = response.text().await.unwrap();
        let problem: Result<Problem, _> = serde_json::from_str(&text);
        let expected_type = format!("/problems/{}", case.problem);
        let ok = status == case.status
            && media.is_some_and(|m| m == PROBLEM_JSON)
            && problem.as_ref().is_ok_and(|p| {
                p.problem_type == expected_type
                    && p.status == status
                    && !p.title.is_empty()
                    && !p.detail.is_empty()
            });
        if !ok {
            failures.push(format!(
                "{}: expected {} {expected_type}, got {status} {text}",
                case.name, case.status
            ));
        }
    }
    let creates_after = server.state.lock().unwrap().creates;
    server.stop().await.unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(
        creates_after, creates_before,
        "a refused request created a note"
    );
}

#[tokio::test]
async fn create_read_list_and_delete_over_http() {
    let server = start().await;
    let (url, c) = (server.url(), client());
    let response = post(
        &c,
        &url,
        "k1",
        json!({"title": "groceries", "body": "milk"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()[LOCATION], "/notes/1");
    assert_eq!(response.headers()[ETAG], "\"1\"");
    let note: Note = response.json().await.unwrap();
    assert_eq!(
        (note.id, note.title.as_str(), note.version),
        (1, "groceries", 1)
    );

    let got = c.get(format!("{url}/notes/1")).send().await.unwrap();
    assert_eq!(got.headers()[ETAG], "\"1\"");
    assert_eq!(got.json::<Note>().await.unwrap(), note);

    let page: NotePage = c
        .get(format!("{url}/notes"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((page.items, page.next_cursor), (vec![note], None));

    let delete = c.delete(format!("{url}/notes/1")).send().await.unwrap();
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    let again = c.delete(format!("{url}/notes/1")).send().await.unwrap();
    assert_eq!(
        again.status(),
        StatusCode::NOT_FOUND,
        "DELETE is idempotent in effect"
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicates_create_one_note_and_get_identical_responses() {
    let server = start().await;
    let url = server.url();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                let c = client();
                let r = post(&c, &url, "same-key", json!({"title": "once"})).await;
                let etag = r.headers().get(ETAG).cloned();
                (r.status(), etag, r.bytes().await.unwrap())
            })
        })
        .collect();
    let mut responses = Vec::new();
    for task in tasks {
        responses.push(task.await.unwrap());
    }
    assert!(
        responses.iter().all(|r| r == &responses[0]),
        "responses differ"
    );
    assert_eq!(responses[0].0, StatusCode::CREATED);
    let creates = server.state.lock().unwrap().creates;
    assert_eq!(creates, 1, "32 duplicates must have one effect");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_retry_replays_and_a_new_key_creates_again() {
    let server = start().await;
    let (url, c) = (server.url(), client());
    let first = post(&c, &url, "k", json!({"title": "t", "body": ""})).await;
    let first = first.bytes().await.unwrap();
    // Same request, fields in another order and spacing: the same operation.
    let retry = c
        .post(format!("{url}/notes"))
        .header("Idempotency-Key", "k");
    let retry = retry.header(CONTENT_TYPE, "application/json");
    let retry = retry
        .body("{ \"body\": \"\",  \"title\": \"t\" }")
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.bytes().await.unwrap(), first);
    let other = post(&c, &url, "k2", json!({"title": "t"})).await;
    assert_eq!(other.json::<Note>().await.unwrap().id, 2);
    assert_eq!(server.state.lock().unwrap().creates, 2);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_lost_update_is_refused_with_412_and_the_loser_can_merge() {
    let server = start().await;
    let (url, c) = (server.url(), client());
    post(&c, &url, "k", json!({"title": "shopping"})).await;
    let note_url = format!("{url}/notes/1");
    // Alice and Bob both read version 1.
    let read = c.get(&note_url).send().await.unwrap();
    let seen = read.headers()[ETAG].to_str().unwrap().to_string();
    let alice = c.put(&note_url).header(IF_MATCH, &seen);
    let alice = alice.json(&json!({"title": "shopping", "body": "eggs"}));
    let alice = alice.send().await.unwrap();
    assert_eq!(alice.status(), StatusCode::OK);
    assert_eq!(alice.headers()[ETAG], "\"2\"");
    let bob = c.put(&note_url).header(IF_MATCH, &seen);
    let bob = bob.json(&json!({"title": "shopping", "body": "bread"}));
    let bob = bob.send().await.unwrap();
    assert_eq!(bob.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        bob.headers()[ETAG],
        "\"2\"",
        "412 tells Bob the current version"
    );
    // Bob re-reads, merges, and writes against the version he now has seen.
    let now: Note = c.get(&note_url).send().await.unwrap().json().await.unwrap();
    assert_eq!(now.body, "eggs", "Alice's update survived");
    let merged = c.put(&note_url).header(IF_MATCH, "\"2\"");
    let merged = merged.json(&json!({"title": "shopping", "body": "eggs, bread"}));
    assert_eq!(merged.send().await.unwrap().status(), StatusCode::OK);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn paging_while_notes_are_inserted_and_deleted_neither_skips_nor_repeats() {
    let server = start().await;
    let (url, c) = (server.url(), client());
    for n in 0..25 {
        post(
            &c,
            &url,
            &format!("seed-{n}"),
            json!({"title": format!("n{n}")}),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut round = 0;
    loop {
        let query = match &cursor {
            Some(c) => format!("?limit=7&cursor={c}"),
            None => "?limit=7".to_string(),
        };
        let page: NotePage = c
            .get(format!("{url}/notes{query}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|n| n.id));
        // Between pages: three inserts, and a delete of the last note read, the very note
        // the cursor points after (offset paging would skip the next page's first note).
        for k in 0..3 {
            post(&c, &url, &format!("r{round}-{k}"), json!({"title": "late"})).await;
        }
        if let Some(&last) = seen.last() {
            let deleted = c.delete(format!("{url}/notes/{last}")).send().await;
            assert_eq!(deleted.unwrap().status(), StatusCode::NO_CONTENT);
        }
        round += 1;
        match page.next_cursor {
            Some(next) if round < 20 => cursor = Some(next),
            _ => break,
        }
    }
    let unique: BTreeSet<u64> = seen.iter().copied().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "a note was returned twice: {seen:?}"
    );
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "not in id order");
    assert!(
        (1..=25).all(|id| unique.contains(&id)),
        "a note present throughout was skipped"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_served_openapi_document_describes_every_route() {
    let server = start().await;
    let c = client();
    let doc: Value = c
        .get(format!("{}/openapi.json", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    server.stop().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let routes = [
        ("/notes", "get"),
        ("/notes", "post"),
        ("/notes/{id}", "get"),
        ("/notes/{id}", "put"),
        ("/notes/{id}", "delete"),
    ];
    for (path, method) in routes {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
    }
    let params = doc["paths"]["/notes"]["post"]["parameters"].to_string();
    assert!(params.contains("Idempotency-Key"));
    for schema in ["Note", "NoteInput", "NotePage", "Problem"] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} missing"
        );
    }
}

#[test]
fn with_keys_no_operation_runs_twice_over_1000_seeds() {
    let setup = |keys| Setup {
        clients: 3,
        ops_per_client: 10,
        ..Setup::book(keys, 0.3)
    };
    Campaign::for_test(
        "part1",
        "with_keys_no_operation_runs_twice_over_1000_seeds",
        1_000,
    )
    .run(|seed| {
        let with = run(&setup(true), seed);
        let without = run(&setup(false), seed);
        if with.duplicates != 0 {
            return Err(format!("{} duplicates with keys", with.duplicates));
        }
        if with.replays != without.duplicates {
            return Err(format!(
                "{} replays with keys but {} duplicates without",
                with.replays, without.duplicates
            ));
        }
        if with.answered + with.gave_up != with.ops {
            return Err("an operation neither answered nor abandoned".into());
        }
        Ok(())
    })
    .assert_passed();
}
