//! Chapter 5: a scripted client session against the notes service on loopback.
//!
//! Starts the server on 127.0.0.1 (port 0), then, with reqwest: creates a note and retries the
//! POST with the same key, reuses the key with another body, plays a lost update that
//! `If-Match` refuses, sends bad input, and pages with a cursor. Prints one line per request;
//! the transcript does not depend on the machine (no ports or times in it).
//!
//! outputs: code/outputs/ch05_tour.txt
//!
//! Run: `cargo run --release -p uds --example ch05_tour`
use std::process::ExitCode;

use clap::Parser;
use reqwest::header::{ETAG, IF_MATCH};
use serde_json::{Value, json};
use uds::communication::apis::server::Server;
use uds::experiment::ExperimentArgs;

/// A scripted session against the notes service.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match uds::experiment::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let lines = runtime.block_on(async {
        let server = Server::start()
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
        let lines = tour(&server.url()).await;
        server.stop().await.map_err(|e| e.to_string())?;
        lines
    });
    let text = match lines {
        Ok(lines) => lines.join("\n") + "\n",
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{text}");
    match args.common.emit("code/outputs/ch05_tour.txt", &text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

// ANCHOR: tour
/// Sends one request and prints it with the status and the body's most telling field.
async fn show(
    out: &mut Vec<String>,
    label: &str,
    request: reqwest::RequestBuilder,
) -> Result<(u16, Option<String>, Value), String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let etag = response
        .headers()
        .get(ETAG)
        .map(|v| v.to_str().unwrap_or("?").to_string());
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let what = match (&body["type"], &body["id"]) {
        (Value::String(problem), _) => format!("problem {problem}"),
        (_, Value::Number(id)) => format!("note {id}, version {}", body["version"]),
        _ if body["items"].is_array() => {
            let ids: Vec<String> = body["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|n| n["id"].to_string())
                .collect();
            format!("notes [{}]", ids.join(", "))
        }
        _ => String::new(),
    };
    let etag_text = etag
        .as_deref()
        .map(|e| format!(" ETag {e}"))
        .unwrap_or_default();
    out.push(format!("{label:<40} -> {status}{etag_text} {what}"));
    Ok((status, etag, body))
}

/// A client session showing the chapter's mechanisms one after another.
async fn tour(url: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let c = reqwest::Client::new();
    let notes = format!("{url}/notes");
    let create = |key: &str, title: &str| {
        let body = json!({ "title": title });
        c.post(&notes).header("Idempotency-Key", key).json(&body)
    };
    show(
        &mut out,
        "POST /notes key=a1 (response 'lost')",
        create("a1", "milk"),
    )
    .await?;
    show(
        &mut out,
        "POST /notes key=a1 (the retry)",
        create("a1", "milk"),
    )
    .await?;
    show(
        &mut out,
        "POST /notes key=a1, another title",
        create("a1", "eggs"),
    )
    .await?;
    show(
        &mut out,
        "POST /notes without a key",
        c.post(&notes).json(&json!({"title": "x"})),
    )
    .await?;
    let (_, etag, _) = show(
        &mut out,
        "GET /notes/1 (Alice and Bob read)",
        c.get(format!("{notes}/1")),
    )
    .await?;
    let seen = etag.ok_or("GET returned no ETag")?;
    let put = |body: &str| {
        let new = json!({ "title": "milk", "body": body });
        c.put(format!("{notes}/1"))
            .header(IF_MATCH, &seen)
            .json(&new)
    };
    show(
        &mut out,
        &format!("PUT /notes/1 If-Match {seen} (Alice)"),
        put("2 litres"),
    )
    .await?;
    show(
        &mut out,
        &format!("PUT /notes/1 If-Match {seen} (Bob)"),
        put("oat"),
    )
    .await?;
    let no_match = c.put(format!("{notes}/1")).json(&json!({"title": "milk"}));
    show(&mut out, "PUT /notes/1 without If-Match", no_match).await?;
    let typo = create("a2", "x").body("{\"titel\": \"milk\"}");
    show(&mut out, "POST {\"titel\": ...} (unknown field)", typo).await?;
    let bad_cursor = c.get(format!("{notes}?cursor=0123"));
    show(&mut out, "GET /notes?cursor=0123", bad_cursor).await?;
    show(&mut out, "POST /notes key=b1", create("b1", "bread")).await?;
    let (_, _, page) = show(
        &mut out,
        "GET /notes?limit=1",
        c.get(format!("{notes}?limit=1")),
    )
    .await?;
    let cursor = page["next_cursor"].as_str().ok_or("no next_cursor")?;
    let next = c.get(format!("{notes}?limit=1&cursor={cursor}"));
    show(&mut out, "GET /notes?limit=1&cursor=<next_cursor>", next).await?;
    Ok(out)
}
// ANCHOR_END: tour
