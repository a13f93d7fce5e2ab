//! The resource's representations: what travels in JSON bodies, and how it is validated.
//!
//! Request bodies reject unknown fields (`deny_unknown_fields`): a client that sends `titel`
//! instead of `title` learns at once, instead of losing the field silently. Response bodies are
//! the opposite: clients must ignore fields they do not know, which is what lets the server add
//! fields later without breaking them (the chapter's section on evolution).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The longest title accepted, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// The longest body accepted, in characters.
pub const MAX_BODY_CHARS: usize = 8_000;

// ANCHOR: types
/// A note as the server returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Note {
    /// Assigned by the server, increasing: a later note has a larger id.
    pub id: u64,
    /// One line, 1 to 200 characters.
    pub title: String,
    /// Free text, up to 8,000 characters.
    pub body: String,
    /// Incremented by every change; the ETag is derived from it.
    pub version: u64,
}

/// The body of `POST /notes`, and of `PUT /notes/{id}` (which replaces title and body).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    /// One line, 1 to 200 characters.
    pub title: String,
    /// Free text, up to 8,000 characters; absent means empty.
    #[serde(default)]
    pub body: String,
}
// ANCHOR_END: types

/// One page of `GET /notes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NotePage {
    /// Notes in increasing id order.
    pub items: Vec<Note>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl NoteInput {
    /// Checks what the type system cannot: lengths, and a title of one non-blank line.
    pub fn validate(&self) -> Result<(), String> {
        let title_chars = self.title.chars().count();
        if self.title.trim().is_empty() {
            return Err("`title` must not be blank".to_string());
        }
        if title_chars > MAX_TITLE_CHARS {
            return Err(format!(
                "`title` has {title_chars} characters, at most {MAX_TITLE_CHARS} are allowed"
            ));
        }
        if self.title.contains(['\n', '\r']) {
            return Err("`title` must be a single line".to_string());
        }
        let body_chars = self.body.chars().count();
        if body_chars > MAX_BODY_CHARS {
            return Err(format!(
                "`body` has {body_chars} characters, at most {MAX_BODY_CHARS} are allowed"
            ));
        }
        Ok(())
    }
}
