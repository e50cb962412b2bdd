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

    /// A complete answer's `new` decisions, handed to `each` in batches of `batch` while the body
    /// is parsed (`deleted` is skipped: a complete answer replaces everything). The peak memory is
    /// the body and one batch, not the body and every decision parsed (a million decisions would
    /// take ~150 MB more).
    pub fn for_each_new(body: &'a [u8], batch: usize, mut each: impl FnMut(&[StreamDecision<'a>])) -> Result<(), LapiError> {
        let mut de = serde_json::Deserializer::from_slice(body);
        serde::de::Deserializer::deserialize_map(&mut de, NewInBatches { batch: batch.max(1), each: &mut each })
            .and_then(|()| de.end())
            .map_err(|e| LapiError::Unreachable(format!("unreadable decision stream: {e}")))
    }
}

/// Visits the answer object, then (`DeserializeSeed`) its `new` list, batch by batch.
struct NewInBatches<'f, F> {
    batch: usize,
    each: &'f mut F,
}

impl<'de, F: FnMut(&[StreamDecision<'de>])> serde::de::Visitor<'de> for NewInBatches<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a decision stream answer: an object, its `new` a list of decisions or null")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (batch, each) = (self.batch, self.each);
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "new" {
                map.next_value_seed(NewInBatches { batch, each: &mut *each })?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut buf = Vec::with_capacity(self.batch);
        while let Some(d) = seq.next_element::<StreamDecision<'de>>()? {
            buf.push(d);
            if buf.len() == self.batch {
                (self.each)(&buf);
                buf.clear();
            }
        }
        if !buf.is_empty() {
            (self.each)(&buf);
        }
        Ok(())
    }
}

impl<'de, F: FnMut(&[StreamDecision<'de>])> serde::de::DeserializeSeed<'de> for NewInBatches<'_, F> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batches(body: &str, batch: usize) -> Result<Vec<Vec<String>>, LapiError> {
        let mut seen = Vec::new();
        StreamAnswer::for_each_new(body.as_bytes(), batch, |b| seen.push(b.iter().map(|d| d.value.to_string()).collect()))?;
        Ok(seen)
    }

    #[test]
    fn a_complete_answer_is_read_in_batches_and_its_deleted_list_skipped() {
        let d = |v: &str| format!(r#"{{"id":1,"value":"{v}","scope":"Ip","type":"ban","origin":"cscli","scenario":"s","duration":"1h"}}"#);
        let body = format!(r#"{{"deleted":[{}],"new":[{},{},{},{},{}],"extra":{{"a":[1]}}}}"#, d("9.9.9.9"), d("1.1.1.1"), d("1.1.1.2"), d("1.1.1.3"), d("1.1.1.4"), d("1.1.1.5"));
        let got = batches(&body, 2).unwrap();
        assert_eq!(got, [vec!["1.1.1.1", "1.1.1.2"], vec!["1.1.1.3", "1.1.1.4"], vec!["1.1.1.5"]]);
        let parsed = StreamAnswer::parse(body.as_bytes()).unwrap();
        assert_eq!(got.concat(), parsed.new.iter().map(|d| d.value.to_string()).collect::<Vec<_>>(), "the same decisions as a whole parse");
        for empty in [r#"{"new":null,"deleted":null}"#, r#"{"new":[]}"#, "{}"] {
            assert_eq!(batches(empty, 2).unwrap(), Vec::<Vec<String>>::new(), "{empty}");
        }
        for bad in [r#"{"new":[{"value":1}]}"#, r#"{"new":[]"#, r#"{"new":[]} x"#, "[]"] {
            assert!(batches(bad, 2).is_err(), "{bad}");
        }
    }
}
