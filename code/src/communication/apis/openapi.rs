//! The OpenAPI document, generated from the handlers' annotations by utoipa.
//!
//! The document is built from the same code that serves the requests: the paths and
//! parameters from each handler's `#[utoipa::path]`, the schemas from the types' derives and
//! their `///` comments. It cannot drift from the types, though it can from what a handler
//! does, which is why the tests also compare it with the routes.

use utoipa::OpenApi;

use super::problem::Problem;
use super::server;
use super::types::{Note, NoteInput, NotePage};

// ANCHOR: api_doc
/// The API's description: every handler and every schema.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "uds notes",
        version = "1.0.0",
        description = "Chapter 5's notes service: idempotent POST, ETags, cursors."
    ),
    paths(
        server::list_notes,
        server::create_note,
        server::get_note,
        server::replace_note,
        server::delete_note
    ),
    components(schemas(Note, NoteInput, NotePage, Problem))
)]
pub struct ApiDoc;
// ANCHOR_END: api_doc

/// The document as pretty-printed JSON.
pub fn openapi_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the document serialises")
}
