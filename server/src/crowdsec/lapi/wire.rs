//! What the Local API sends and receives, as Rust types: the machine login's answer and JWT, and
//! the bouncer's decision stream (borrowing from the body, so 100 000 decisions do not allocate
//! 500 000 strings on the way in).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::LapiError;

#[derive(Deserialize)]
pub(super) struct LoginAnswer {
    pub token: String,
    pub expire: String,
}

/// A machine JWT and when it expires (RFC 3339, as the LAPI sends it).
#[derive(Clone)]
pub struct Jwt {
    pub token: String,
    pub expire: String,
}

impl std::fmt::Debug for Jwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwt").field("expire", &self.expire).finish_non_exhaustive()
    }
}

/// A decision as the LAPI stream sends it. Strings borrow from the response body where they can,
/// so a full answer of 100 000 decisions does not allocate 500 000 strings on the way in.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct StreamDecision<'a> {
    #[serde(default)]
    pub id: i64,
    #[serde(borrow)]
    pub value: Cow<'a, str>,
    #[serde(borrow)]
    pub scope: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(default, borrow)]
    pub origin: Cow<'a, str>,
    #[serde(default, borrow)]
    pub scenario: Cow<'a, str>,
    /// Remaining time as a Go duration.
    #[serde(default, borrow)]
    pub duration: Cow<'a, str>,
}

/// `GET /v1/decisions/stream`: `null`, `[]` and a missing key all mean "none". Borrows from the
/// body returned by `Lapi::stream`.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct StreamAnswer<'a> {
    #[serde(default, borrow, deserialize_with = "null_as_empty")]
    pub new: Vec<StreamDecision<'a>>,
    #[serde(default, borrow, deserialize_with = "null_as_empty")]
    pub deleted: Vec<StreamDecision<'a>>,
}

impl<'a> StreamAnswer<'a> {
    pub fn parse(body: &'a [u8]) -> Result<Self, LapiError> {
        serde_json::from_slice(body).map_err(|e| LapiError::Unreachable(format!("unreadable decision stream: {e}")))
    }
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}
