//! Decisions whose scope this bouncer cannot enforce (`Country`, `AS`, anything but `Ip`/`Range`).
//! The forward-auth lookup never sees them, but they are real decisions in the engine: Live
//! Decisions lists them marked "not enforced by this bouncer" and the Security page counts them,
//! so an operator who bans a country learns that Charon does not block it instead of believing it
//! does. Keyed like the decision tables, by (scope, value, type); bounded, because a malformed
//! feed must not grow memory without limit (such decisions are rare: a handful per country list).

use std::sync::Arc;

use hashbrown::HashMap;

/// At most this many are kept; further ones are counted as dropped.
pub const MAX_UNENFORCED: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    scope: Arc<str>,
    value: Arc<str>,
    kind: Arc<str>,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub id: i64,
    pub origin: Arc<str>,
    pub scenario: Arc<str>,
    pub until: i64,
}

/// One decision of an unenforced scope, as `for_each` hands it out.
pub struct Row<'a> {
    pub scope: &'a str,
    pub value: &'a str,
    pub kind: &'a str,
    pub entry: &'a Entry,
}

#[derive(Debug, Default)]
pub struct Unenforced {
    map: HashMap<Key, Entry>,
}

/// The scope as the engine spells it for the usual ones (`country` → `Country`), else as given.
fn canonical_scope(scope: &str) -> Arc<str> {
    match scope.to_ascii_lowercase().as_str() {
        "country" => "Country".into(),
        "as" => "AS".into(),
        _ => scope.into(),
    }
}

impl Unenforced {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Inserts or replaces; returns false when full (the entry is not kept).
    pub fn insert(&mut self, scope: &str, value: &str, kind: &str, entry: Entry) -> bool {
        let key = Key { scope: canonical_scope(scope), value: value.into(), kind: kind.into() };
        if self.map.len() >= MAX_UNENFORCED && !self.map.contains_key(&key) {
            return false;
        }
        self.map.insert(key, entry);
        true
    }

    pub fn remove(&mut self, scope: &str, value: &str, kind: &str) -> bool {
        let key = Key { scope: canonical_scope(scope), value: value.into(), kind: kind.into() };
        self.map.remove(&key).is_some()
    }

    pub fn contains(&self, scope: &str, value: &str, kind: &str) -> bool {
        self.map.contains_key(&Key { scope: canonical_scope(scope), value: value.into(), kind: kind.into() })
    }

    /// Removes the decision with this id; returns whether there was one.
    pub fn remove_id(&mut self, id: i64) -> bool {
        let before = self.map.len();
        self.map.retain(|_, e| e.id != id);
        self.map.len() != before
    }

    /// Drops expired entries; returns how many.
    pub fn sweep(&mut self, now: i64) -> usize {
        let before = self.map.len();
        self.map.retain(|_, e| e.until > now);
        before - self.map.len()
    }

    /// Calls `f` for every entry of `self` that `other` does not hold the same way (as
    /// `Tables::each_not_in`).
    pub fn each_not_in(&self, other: &Unenforced, slack: i64, mut f: impl FnMut(Row<'_>)) {
        for (k, e) in &self.map {
            let same = other.map.get(k).is_some_and(|o| {
                o.id == e.id && (o.until - e.until).abs() <= slack && o.origin == e.origin && o.scenario == e.scenario
            });
            if !same {
                f(Row { scope: &k.scope, value: &k.value, kind: &k.kind, entry: e });
            }
        }
    }

    pub fn for_each(&self, mut f: impl FnMut(Row<'_>)) {
        for (k, e) in &self.map {
            f(Row { scope: &k.scope, value: &k.value, kind: &k.kind, entry: e });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64, until: i64) -> Entry {
        Entry { id, origin: "cscli".into(), scenario: "manual".into(), until }
    }

    #[test]
    fn keyed_by_scope_value_and_type_with_canonical_scopes() {
        let mut u = Unenforced::default();
        assert!(u.insert("Country", "FR", "ban", entry(1, 10)));
        assert!(u.insert("country", "FR", "ban", entry(2, 20)), "same key, replaced");
        assert!(u.insert("Country", "FR", "captcha", entry(3, 20)));
        assert!(u.insert("AS", "64496", "ban", entry(4, 5)));
        assert_eq!(u.len(), 3);
        let mut scopes = Vec::new();
        u.for_each(|r| scopes.push(r.scope.to_owned()));
        assert!(scopes.iter().all(|s| s == "Country" || s == "AS"), "{scopes:?}");
        assert_eq!(u.sweep(10), 1, "the AS decision expired");
        assert!(u.remove_id(3));
        assert!(!u.remove_id(3));
        assert!(u.remove("COUNTRY", "FR", "ban"));
        assert!(u.is_empty());
    }

    #[test]
    fn bounded() {
        let mut u = Unenforced::default();
        for i in 0..MAX_UNENFORCED as i64 {
            assert!(u.insert("AS", &i.to_string(), "ban", entry(i, 10)));
        }
        assert!(!u.insert("AS", "new", "ban", entry(0, 10)), "a full store refuses new keys");
        assert!(u.insert("AS", "0", "ban", entry(0, 20)), "but updates existing ones");
        assert_eq!(u.len(), MAX_UNENFORCED);
    }
}
