//! What an operator may do besides reading: the daily false-positive work; and what anyone signed
//! in may do to their own things. Tables read by the
//! server's deny-by-default gate (`server::auth::policy`) and by [`super::model::Admin::for_request`],
//! which makes the proof a mutating service method needs; nothing else knows about operators,
//! except the width limit on their bans (`decisions`).

/// `(method, path)`: REST paths with `{}` for one path segment, and server functions.
pub const OPERATOR_ACTIONS: &[(&str, &str)] = &[
    ("POST", "/api/v1/cerberus/crowdsec/decisions"),
    ("DELETE", "/api/v1/cerberus/crowdsec/decisions"),
    ("DELETE", "/api/v1/cerberus/crowdsec/decisions/{}"),
    ("POST", "/api/v1/cerberus/crowdsec/decisions/unban-and-allow"),
    ("POST", "/api/v1/cerberus/crowdsec/allowlist"),
    ("POST", "/rpc/decisions/ban"),
    ("POST", "/rpc/decisions/unban"),
    ("POST", "/rpc/decisions/unban-values"),
    ("POST", "/rpc/decisions/unban-and-allow"),
    ("POST", "/rpc/allowlist/add"),
];

/// What every signed-in user may do to their own things, whatever their role (the service checks
/// the ownership): end one of their sessions, set up or turn off their second factor.
pub const SELF_ACTIONS: &[(&str, &str)] = &[
    ("DELETE", "/api/v1/sessions/{}"),
    ("POST", "/rpc/sessions/end"),
    ("POST", "/rpc/totp/begin"),
    ("POST", "/rpc/totp/confirm"),
    ("POST", "/rpc/totp/disable"),
];

/// Whether `path` fits `pattern` segment by segment (`{}` takes one non-empty segment).
fn fits(pattern: &str, path: &str) -> bool {
    let (mut p, mut q) = (pattern.split('/'), path.split('/'));
    loop {
        match (p.next(), q.next()) {
            (None, None) => return true,
            (Some("{}"), Some(seg)) if !seg.is_empty() => {}
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

fn listed(table: &[(&str, &str)], method: &str, path: &str) -> bool {
    table.iter().any(|(m, p)| m.eq_ignore_ascii_case(method) && fits(p, path))
}

/// Whether an operator may send `method path`.
pub fn operator_may(method: &str, path: &str) -> bool {
    listed(OPERATOR_ACTIONS, method, path)
}

/// Whether `method path` is one of the [`SELF_ACTIONS`] anyone signed in may send.
pub fn anyone_may(method: &str, path: &str) -> bool {
    listed(SELF_ACTIONS, method, path)
}

#[cfg(test)]
mod tests {
    use super::operator_may;

    #[test]
    fn operators_do_the_false_positive_work_and_nothing_else() {
        assert!(operator_may("POST", "/api/v1/cerberus/crowdsec/decisions"));
        assert!(operator_may("DELETE", "/api/v1/cerberus/crowdsec/decisions/42"));
        assert!(operator_may("POST", "/api/v1/cerberus/crowdsec/allowlist"));
        assert!(operator_may("POST", "/rpc/decisions/unban-and-allow"));
        assert!(!operator_may("DELETE", "/api/v1/cerberus/crowdsec/decisions/"), "an empty id is no id");
        assert!(!operator_may("DELETE", "/api/v1/cerberus/crowdsec/decisions/42/x"));
        assert!(!operator_may("DELETE", "/api/v1/cerberus/crowdsec/allowlist/3"), "removing an exception is an administrator's");
        assert!(!operator_may("POST", "/api/v1/cerberus/crowdsec/decisions/import"));
        assert!(!operator_may("POST", "/rpc/decisions/import"));
        assert!(!operator_may("POST", "/api/v1/cerberus/crowdsec/start"));
        assert!(!operator_may("POST", "/api/v1/users"));
        assert!(!operator_may("GET", "/api/v1/cerberus/crowdsec/bouncer/key"));
        assert!(!operator_may("POST", "/rpc/a-function-added-tomorrow"));
    }
}
