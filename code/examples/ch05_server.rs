//! Chapter 5: the notes service on loopback, or a scripted tour of it.
//!
//! Without flags it serves on 127.0.0.1 (a port the kernel chooses, printed) until you press
//! Enter or standard input ends. With `--demo` it starts the server, plays a short client
//! session against it (a retried POST, a lost update, bad input) and exits.
//!
//! Run: `cargo run --release -p uds --example ch05_server` (add `-- --demo` for the tour)
use std::process::ExitCode;

use clap::Parser;
use reqwest::header::{ETAG, IF_MATCH};
use serde_json::{Value, json};
use uds::communication::apis::server::Server;

/// The chapter 5 notes service.
#[derive(Parser, Debug)]
struct Args {
    /// Play a scripted client session against the server, then exit.
    #[arg(long)]
    demo: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let server = Server::start()
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
        if args.demo {
            let result = demo(&server.url()).await;
            server.stop().await.map_err(|e| e.to_string())?;
            return result;
        }
        serve(server).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Serves until Enter or the end of standard input.
async fn serve(server: Server) -> Result<(), String> {
    let url = server.url();
    println!("notes service on {url} (press Enter to stop)");
    println!("  curl -i {url}/openapi.json");
    println!(
        "  curl -i -X POST {url}/notes -H 'Content-Type: application/json' \\\n    \
         -H 'Idempotency-Key: k1' -d '{{\"title\": \"hello\"}}'"
    );
    println!("  curl -i {url}/notes/1");
    let stdin = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)
    });
    let _ = stdin.await;
    println!("stopping");
    server.stop().await.map_err(|e| e.to_string())
}

// ANCHOR: demo
/// Sends one request and prints it with the status and the body's most telling field.
async fn show(
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
        _ => String::new(),
    };
    let etag_text = etag
        .as_deref()
        .map(|e| format!(" ETag {e}"))
        .unwrap_or_default();
    println!("{label:<44} -> {status}{etag_text} {what}");
    Ok((status, etag, body))
}

/// A client session showing the chapter's mechanisms one after another.
async fn demo(url: &str) -> Result<(), String> {
    let c = reqwest::Client::new();
    let notes = format!("{url}/notes");
    let create = |key: &str, title: &str| {
        let body = json!({ "title": title });
        c.post(&notes).header("Idempotency-Key", key).json(&body)
    };
    show("POST /notes key=a1 (response 'lost')", create("a1", "milk")).await?;
    show("POST /notes key=a1 (the retry)", create("a1", "milk")).await?;
    show("POST /notes key=a1, another title", create("a1", "eggs")).await?;
    show(
        "POST /notes without a key",
        c.post(&notes).json(&json!({"title": "x"})),
    )
    .await?;
    let (_, etag, _) = show(
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
        &format!("PUT /notes/1 If-Match {seen} (Alice)"),
        put("2 litres"),
    )
    .await?;
    show(&format!("PUT /notes/1 If-Match {seen} (Bob)"), put("oat")).await?;
    let no_match = c.put(format!("{notes}/1")).json(&json!({"title": "milk"}));
    show("PUT /notes/1 without If-Match", no_match).await?;
    let typo = create("a2", "x").body("{\"titel\": \"milk\"}");
    show("POST {\"titel\": ...} (unknown field)", typo).await?;
    show(
        "GET /notes?cursor=0123",
        c.get(format!("{notes}?cursor=0123")),
    )
    .await?;
    let (_, _, page) = show("GET /notes?limit=1", c.get(format!("{notes}?limit=1"))).await?;
    println!("  next_cursor: {}", page["next_cursor"]);
    Ok(())
}
// ANCHOR_END: demo
