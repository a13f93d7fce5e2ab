//! The HTTP service: axum handlers that check the request at the edge, then call the sans-I/O
//! collection and idempotency store under one lock.
//!
//! Routes (the OpenAPI document at `GET /openapi.json` describes them in full):
//!
//! | method and path      | does                                   | safe | idempotent |
//! |----------------------|----------------------------------------|------|------------|
//! | `GET /notes`         | one page, `?limit=&cursor=`            | yes  | yes        |
//! | `POST /notes`        | create; needs `Idempotency-Key`        | no   | with a key |
//! | `GET /notes/{id}`    | read, with an `ETag`                   | yes  | yes        |
//! | `PUT /notes/{id}`    | replace; needs `If-Match`              | no   | yes        |
//! | `DELETE /notes/{id}` | delete; `If-Match` optional            | no   | yes        |
//!
//! Every handler validates everything it read off the wire (headers, path, query, body)
//! before it takes the lock, and every refusal is a [`Problem`]. axum's own rejections (a body
//! over the limit, a path that does not route, a method the route lacks) are mapped to problems
//! too, so no error leaves the server as plain text. The idempotency check, the effect and the
//! recording of the response happen under one lock: concurrent requests with one key are
//! serialised, the first creates the note and the others replay its response. A store in a
//! database would do the same in one transaction.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::collection::{IfMatch, Notes, WriteError, etag};
use super::cursor::{decode_cursor, encode_cursor};
use super::idempotency::{Begin, IdempotencyStore, fingerprint};
use super::openapi::openapi_json;
use super::problem::{Problem, ProblemKind, json_problem};
use super::types::{Note, NoteInput, NotePage};

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// The longest `Idempotency-Key` accepted, in bytes.
pub const MAX_KEY_BYTES: usize = 255;
/// The page size when `limit` is absent.
pub const DEFAULT_LIMIT: usize = 20;
/// The largest `limit` accepted.
pub const MAX_LIMIT: usize = 100;

/// A response kept by the idempotency store, replayed byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    /// The status code.
    pub status: StatusCode,
    /// Headers to send again (`Location`, `ETag`).
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
    /// The body, as sent the first time.
    pub body: Bytes,
}

impl IntoResponse for StoredResponse {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        response
    }
}

/// What the handlers share: the collection and the key store, behind one lock.
#[derive(Default)]
pub struct Service {
    /// The notes.
    pub notes: Notes,
    /// Responses to POSTs, by idempotency key.
    pub keys: IdempotencyStore<StoredResponse>,
    /// Notes created (each POST that ran, not each that was replayed).
    pub creates: u64,
}

/// The shared state of the handlers.
pub type Shared = Arc<Mutex<Service>>;

fn lock(state: &Shared) -> MutexGuard<'_, Service> {
    // A handler that panicked mid-update would poison the lock; the service state is
    // updated in single steps that cannot panic halfway, so the data is still consistent.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ANCHOR: router
/// The API's routes, with every rejection mapped to a problem.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/notes", get(list_notes).post(create_note))
        .route(
            "/notes/{id}",
            get(get_note).put(replace_note).delete(delete_note),
        )
        .route("/openapi.json", get(openapi))
        .fallback(|| async { ProblemKind::NotFound.with("no such route") })
        .method_not_allowed_fallback(|| async {
            ProblemKind::MethodNotAllowed.with("see /openapi.json for the methods")
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
// ANCHOR_END: router

/// Serves the OpenAPI document generated from the code.
async fn openapi() -> Response {
    let json = HeaderValue::from_static("application/json");
    ([(header::CONTENT_TYPE, json)], openapi_json()).into_response()
}

// ANCHOR: edge
/// The JSON body of a request, checked for media type, size, syntax, types and unknown fields.
fn json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, Problem> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if media_type.as_deref() != Some("application/json") {
        let detail = format!("Content-Type is {media_type:?}; send application/json");
        return Err(ProblemKind::UnsupportedMediaType.with(detail));
    }
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            let detail = format!("the body exceeds {MAX_BODY_BYTES} bytes");
            ProblemKind::BodyTooLarge.with(detail)
        } else {
            ProblemKind::MalformedJson.with(rejection.body_text())
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| json_problem(&e))
}

/// The `Idempotency-Key` header: required, 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<String, Problem> {
    let Some(value) = headers.get("idempotency-key") else {
        let detail = "POST /notes needs an Idempotency-Key header, e.g. a random UUID";
        return Err(ProblemKind::MissingIdempotencyKey.with(detail));
    };
    let key = value.to_str().unwrap_or("").trim();
    let visible = key.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if key.is_empty() || key.len() > MAX_KEY_BYTES || !visible {
        let detail = format!("a key is 1 to {MAX_KEY_BYTES} visible ASCII characters");
        return Err(ProblemKind::InvalidIdempotencyKey.with(detail));
    }
    Ok(key.to_string())
}
// ANCHOR_END: edge

/// A note id from the path: a positive integer.
fn note_id(path: Result<Path<String>, PathRejection>) -> Result<u64, Problem> {
    let raw = path
        .map_err(|r| ProblemKind::InvalidId.with(r.body_text()))?
        .0;
    match raw.parse::<u64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(ProblemKind::InvalidId.with(format!("{raw:?} is not a positive integer"))),
    }
}

/// A response with a note as JSON and its ETag.
fn note_response(status: StatusCode, note: &Note) -> StoredResponse {
    let body = serde_json::to_vec(note).expect("a note always serialises");
    let tag = HeaderValue::from_str(&etag(note)).expect("an ETag is visible ASCII");
    let mut headers = vec![(header::ETAG, tag)];
    if status == StatusCode::CREATED {
        let location = HeaderValue::from_str(&format!("/notes/{}", note.id)).expect("ASCII");
        headers.push((header::LOCATION, location));
    }
    StoredResponse {
        status,
        headers,
        body: Bytes::from(body),
    }
}

// ANCHOR: create_note
/// `POST /notes`: creates a note, once per idempotency key.
#[utoipa::path(post, path = "/notes", tag = "notes",
    params(("Idempotency-Key" = String, Header, description = "Unique per operation")),
    request_body = NoteInput,
    responses(
        (status = 201, description = "Created (or the stored response, replayed)", body = Note),
        (status = "4XX", description = "Refused", body = Problem,
         content_type = "application/problem+json"),
    ))]
pub async fn create_note(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StoredResponse, Problem> {
    let key = idempotency_key(&headers)?;
    let input: NoteInput = json_body(&headers, body)?;
    input
        .validate()
        .map_err(|e| ProblemKind::ValidationFailed.with(e))?;
    // The fingerprint is of the parsed input re-serialised, so that a retry whose JSON differs
    // only in spacing or field order still counts as the same request.
    let canonical = serde_json::to_vec(&input).expect("input serialises");
    let mut service = lock(&state);
    match service.keys.begin(&key, fingerprint(&canonical)) {
        Begin::Execute => {
            let note = service.notes.create(input);
            service.creates += 1;
            let response = note_response(StatusCode::CREATED, &note);
            service.keys.complete(&key, response.clone());
            Ok(response)
        }
        Begin::Replay(response) => Ok(response),
        Begin::InProgress => Err(ProblemKind::IdempotencyKeyInProgress.with("retry later")),
        Begin::Mismatch { .. } => Err(ProblemKind::IdempotencyKeyReused
            .with(format!("key {key:?} was first used with a different body"))),
    }
}
// ANCHOR_END: create_note

/// `GET /notes/{id}`: one note, with its ETag.
#[utoipa::path(get, path = "/notes/{id}", tag = "notes",
    params(("id" = u64, Path, description = "The note's id")),
    responses(
        (status = 200, description = "The note; the ETag header is its version", body = Note),
        (status = "4XX", description = "Refused", body = Problem,
         content_type = "application/problem+json"),
    ))]
pub async fn get_note(
    State(state): State<Shared>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StoredResponse, Problem> {
    let id = note_id(path)?;
    let service = lock(&state);
    match service.notes.get(id) {
        Some(note) => Ok(note_response(StatusCode::OK, note)),
        None => Err(ProblemKind::NotFound.with(format!("no note {id}"))),
    }
}

/// The `If-Match` header: `None` if absent, a problem if unparsable.
fn if_match(headers: &HeaderMap) -> Result<Option<IfMatch>, Problem> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let parsed = value.to_str().ok().and_then(IfMatch::parse);
    let detail = "If-Match is `*` or a list of quoted entity tags, e.g. \"3\"";
    parsed
        .map(Some)
        .ok_or_else(|| ProblemKind::InvalidIfMatch.with(detail))
}

fn write_problem(id: u64, error: WriteError) -> Response {
    match error {
        WriteError::NotFound => ProblemKind::NotFound
            .with(format!("no note {id}"))
            .into_response(),
        WriteError::PreconditionFailed { current } => {
            let detail = format!("note {id} is now at ETag {current}; GET it, merge, retry");
            let mut response = ProblemKind::PreconditionFailed.with(detail).into_response();
            let tag = HeaderValue::from_str(&current).expect("an ETag is visible ASCII");
            response.headers_mut().insert(header::ETAG, tag);
            response
        }
    }
}

// ANCHOR: replace_note
/// `PUT /notes/{id}`: replaces title and body if `If-Match` names the current version.
#[utoipa::path(put, path = "/notes/{id}", tag = "notes",
    params(("id" = u64, Path, description = "The note's id"),
           ("If-Match" = String, Header, description = "The ETag the client last read")),
    request_body = NoteInput,
    responses(
        (status = 200, description = "Replaced; the ETag header is the new version", body = Note),
        (status = 412, description = "The note changed since", body = Problem,
         content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem,
         content_type = "application/problem+json"),
        (status = "4XX", description = "Other refusals (bad body, no such note)",
         body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn replace_note(
    State(state): State<Shared>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let checked = note_id(path).and_then(|id| {
        let Some(precondition) = if_match(&headers)? else {
            let detail = "PUT needs If-Match with the ETag you read, so no update is lost";
            return Err(ProblemKind::PreconditionRequired.with(detail));
        };
        let input: NoteInput = json_body(&headers, body)?;
        input
            .validate()
            .map_err(|e| ProblemKind::ValidationFailed.with(e))?;
        Ok((id, precondition, input))
    });
    let (id, precondition, input) = match checked {
        Ok(checked) => checked,
        Err(problem) => return problem.into_response(),
    };
    let result = lock(&state).notes.replace(id, &precondition, input);
    match result {
        Ok(note) => note_response(StatusCode::OK, &note).into_response(),
        Err(e) => write_problem(id, e),
    }
}
// ANCHOR_END: replace_note

/// `DELETE /notes/{id}`: deletes the note, if `If-Match` (when given) names its version.
#[utoipa::path(delete, path = "/notes/{id}", tag = "notes",
    params(("id" = u64, Path, description = "The note's id"),
           ("If-Match" = Option<String>, Header, description = "Delete only this version")),
    responses(
        (status = 204, description = "Deleted"),
        (status = "4XX", description = "Refused", body = Problem,
         content_type = "application/problem+json"),
    ))]
pub async fn delete_note(
    State(state): State<Shared>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let checked = note_id(path).and_then(|id| Ok((id, if_match(&headers)?)));
    let (id, precondition) = match checked {
        Ok(checked) => checked,
        Err(problem) => return problem.into_response(),
    };
    let result = lock(&state).notes.delete(id, precondition.as_ref());
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => write_problem(id, e),
    }
}

// ANCHOR: list_notes
/// `GET /notes?limit=&cursor=`: one page of notes in id order.
#[utoipa::path(get, path = "/notes", tag = "notes",
    params(("limit" = Option<usize>, Query, description = "1 to 100, default 20"),
           ("cursor" = Option<String>, Query, description = "next_cursor of the last page")),
    responses(
        (status = 200, description = "A page", body = NotePage),
        (status = 400, description = "Bad limit or cursor", body = Problem,
         content_type = "application/problem+json"),
    ))]
pub async fn list_notes(
    State(state): State<Shared>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<axum::Json<NotePage>, Problem> {
    let Query(pairs) = query.map_err(|r| ProblemKind::InvalidQuery.with(r.body_text()))?;
    let (mut limit, mut after) = (DEFAULT_LIMIT, None);
    for (name, value) in pairs {
        match name.as_str() {
            "limit" => match value.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => limit = n,
                _ => {
                    let detail = format!("limit={value:?}: expected 1 to {MAX_LIMIT}");
                    return Err(ProblemKind::InvalidQuery.with(detail));
                }
            },
            "cursor" => match decode_cursor(&value) {
                Ok(id) => after = Some(id),
                Err(e) => {
                    let detail = format!("{e:?} cursor; pass back a next_cursor unchanged");
                    return Err(ProblemKind::InvalidCursor.with(detail));
                }
            },
            other => {
                let detail = format!("unknown parameter {other:?}; known: limit, cursor");
                return Err(ProblemKind::InvalidQuery.with(detail));
            }
        }
    }
    let page = lock(&state).notes.page(after, limit);
    Ok(axum::Json(NotePage {
        items: page.items,
        next_cursor: page.next_after.map(encode_cursor),
    }))
}
// ANCHOR_END: list_notes

/// A running server on loopback: its address and the means to stop it.
pub struct Server {
    /// Where it listens (127.0.0.1 and the port the kernel chose).
    pub addr: SocketAddr,
    /// The state, shared with the handlers (tests read `creates` from it).
    pub state: Shared,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// Binds 127.0.0.1 on a port the kernel chooses and serves in a tokio task.
    pub async fn start() -> std::io::Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Shared::default();
        let app = router(state.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Server {
            addr,
            state,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets requests in flight finish, and waits for the server task.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}
