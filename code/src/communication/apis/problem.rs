//! Errors as RFC 9457 problem details: one JSON shape for every 4xx the API sends.
//!
//! A problem body says what went wrong in a form a program can branch on (`type`, a URI
//! reference naming the kind of problem, and `status`) and a person can read (`title`, the
//! same for every problem of that type, and `detail`, about this occurrence). It is sent with
//! the media type `application/problem+json` (RFC 9457 §3). Every error response of the server
//! is built from a [`ProblemKind`], so the table of kinds below is the API's whole error
//! vocabulary, and the tests check each one over real HTTP.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The media type of problem bodies (RFC 9457 §3).
pub const PROBLEM_JSON: &str = "application/problem+json";

// ANCHOR: problem
/// A problem details object (RFC 9457 §3.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type, e.g. `/problems/malformed-json`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the problem type, the same for every occurrence.
    pub title: String,
    /// The HTTP status code, repeated for clients that lose the status line.
    pub status: u16,
    /// What went wrong this time, for a person.
    pub detail: String,
}

/// Every kind of error the API reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// The body is not JSON (400).
    MalformedJson,
    /// The body is JSON with a field of the wrong type or a required field missing (422).
    InvalidBody,
    /// The body has a field the resource does not have (422).
    UnknownField,
    /// Fields are well-typed but their values break a rule, e.g. an empty title (422).
    ValidationFailed,
    /// The body is larger than the server accepts (413).
    BodyTooLarge,
    /// The body is not `application/json` (415).
    UnsupportedMediaType,
    /// A POST without an `Idempotency-Key` header (400).
    MissingIdempotencyKey,
    /// An `Idempotency-Key` that is empty, too long or not visible ASCII (400).
    InvalidIdempotencyKey,
    /// An `Idempotency-Key` already used with a different request (422).
    IdempotencyKeyReused,
    /// An earlier request with this key is still being processed (409).
    IdempotencyKeyInProgress,
    /// A write without `If-Match` (428).
    PreconditionRequired,
    /// An `If-Match` header that is not `*` or a list of entity tags (400).
    InvalidIfMatch,
    /// `If-Match` names a version that is no longer current: a lost update averted (412).
    PreconditionFailed,
    /// A cursor the server did not issue, or altered (400).
    InvalidCursor,
    /// A query parameter that is unknown or out of range (400).
    InvalidQuery,
    /// A note id that is not a positive integer (400).
    InvalidId,
    /// No such resource (404).
    NotFound,
    /// The resource exists but not with this method (405).
    MethodNotAllowed,
}

impl ProblemKind {
    /// The status, the last segment of the type URI, and the title.
    pub fn describe(self) -> (StatusCode, &'static str, &'static str) {
        use ProblemKind::*;
        match self {
            MalformedJson => (
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "Body is not valid JSON",
            ),
            InvalidBody => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                "Body has wrong types",
            ),
            UnknownField => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown-field",
                "Unknown field",
            ),
            ValidationFailed => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid value",
            ),
            BodyTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "Body too large",
            ),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Body must be application/json",
            ),
            MissingIdempotencyKey => (
                StatusCode::BAD_REQUEST,
                "missing-idempotency-key",
                "Idempotency-Key header required",
            ),
            InvalidIdempotencyKey => (
                StatusCode::BAD_REQUEST,
                "invalid-idempotency-key",
                "Invalid Idempotency-Key",
            ),
            IdempotencyKeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused with another request",
            ),
            IdempotencyKeyInProgress => (
                StatusCode::CONFLICT,
                "idempotency-key-in-progress",
                "A request with this Idempotency-Key is in progress",
            ),
            PreconditionRequired => (
                StatusCode::PRECONDITION_REQUIRED,
                "precondition-required",
                "If-Match header required",
            ),
            InvalidIfMatch => (
                StatusCode::BAD_REQUEST,
                "invalid-if-match",
                "Invalid If-Match",
            ),
            PreconditionFailed => (
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "The resource changed since you read it",
            ),
            InvalidCursor => (StatusCode::BAD_REQUEST, "invalid-cursor", "Invalid cursor"),
            InvalidQuery => (StatusCode::BAD_REQUEST, "invalid-query", "Invalid query"),
            InvalidId => (StatusCode::BAD_REQUEST, "invalid-id", "Invalid note id"),
            NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
        }
    }

    /// The problem's `type` URI reference.
    pub fn type_uri(self) -> String {
        format!("/problems/{}", self.describe().1)
    }

    /// A problem of this kind with `detail`.
    pub fn with(self, detail: impl Into<String>) -> Problem {
        let (status, _, title) = self.describe();
        Problem {
            problem_type: self.type_uri(),
            title: title.to_string(),
            status: status.as_u16(),
            detail: detail.into(),
        }
    }
}
// ANCHOR_END: problem

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = serde_json::to_vec(&self).expect("a problem always serialises");
        let content_type = HeaderValue::from_static(PROBLEM_JSON);
        (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
    }
}

/// Classifies a JSON decoding error: syntax errors are 400, type errors 422.
pub fn json_problem(error: &serde_json::Error) -> Problem {
    use serde_json::error::Category;
    let kind = match error.classify() {
        Category::Syntax | Category::Eof | Category::Io => ProblemKind::MalformedJson,
        // serde's derive reports unknown fields with this wording; the test table pins it.
        Category::Data if error.to_string().starts_with("unknown field") => {
            ProblemKind::UnknownField
        }
        Category::Data => ProblemKind::InvalidBody,
    };
    kind.with(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::communication::apis::types::NoteInput;

    #[test]
    fn json_errors_are_classified_by_cause() {
        let cases = [
            ("{\"title\": ", "/problems/malformed-json"),
            ("not json", "/problems/malformed-json"),
            ("{\"title\": 5}", "/problems/invalid-body"),
            ("{}", "/problems/invalid-body"),
            (
                "{\"title\": \"a\", \"titel\": \"b\"}",
                "/problems/unknown-field",
            ),
        ];
        for (body, expected) in cases {
            let err = serde_json::from_str::<NoteInput>(body).unwrap_err();
            assert_eq!(json_problem(&err).problem_type, expected, "{body}");
        }
    }

    #[test]
    fn every_kind_is_a_4xx() {
        use ProblemKind::*;
        let all = [
            MalformedJson,
            InvalidBody,
            UnknownField,
            ValidationFailed,
            BodyTooLarge,
            UnsupportedMediaType,
            MissingIdempotencyKey,
            InvalidIdempotencyKey,
            IdempotencyKeyReused,
            IdempotencyKeyInProgress,
            PreconditionRequired,
            InvalidIfMatch,
            PreconditionFailed,
            InvalidCursor,
            InvalidQuery,
            InvalidId,
            NotFound,
            MethodNotAllowed,
        ];
        for kind in all {
            assert!(kind.describe().0.is_client_error(), "{kind:?}");
        }
    }
}
