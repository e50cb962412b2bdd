//! Who may call what, decided in one place and denying by default.
//!
//! Anonymous callers are turned away by the gate (401) before any handler runs. Signed-in viewers
//! may read: every `GET`/`HEAD` under `/api/` and the server functions on [`RPC_READS`]. Operators
//! may read as viewers do, and send the requests of `app::accounts::duties::OPERATOR_ACTIONS` (ban,
//! unban, unban and allow, add to the allowlist). Everyone signed in may send the
//! `SELF_ACTIONS` (end one of their own sessions; the service checks whose it is). Anything else — every other method under `/api/`,
//! every server function not on a list, including one added tomorrow — needs an administrator, so a
//! new endpoint is admin-only until someone decides otherwise. Handlers and server functions additionally need an `app::accounts::model::Admin` to call a
//! mutating or secret-revealing service method (`auth::extract::AdminCaller` for REST,
//! `app::auth::guard::admin` for server functions), which is how a secret read such as
//! `GET …/bouncer/key` stays admin-only although it is a `GET`.

use axum::http::Method;

use app::accounts::model::Role;

/// Server functions a viewer may call: they read and reveal no secret.
pub const RPC_READS: &[&str] = &[
    "/rpc/whoami",
    "/rpc/crowdsec/status",
    "/rpc/console/status",
    "/rpc/console/diagnostics",
    "/rpc/hub/list",
    "/rpc/hub/item",
    "/rpc/users/list",
    "/rpc/tokens/list",
    "/rpc/decisions/list",
    "/rpc/allowlist/list",
    "/rpc/proxy/list",
    "/rpc/proxy/status",
    "/rpc/nodes/list",
    "/rpc/notify/channels",
    "/rpc/notify/history",
    "/rpc/overview/numbers",
    "/rpc/sessions/list",
    "/rpc/totp/status",
];

/// Whether a signed-in caller with `role` may reach `method path` at all.
pub fn allows(role: Role, method: &Method, path: &str) -> bool {
    if role.may_mutate() {
        return true;
    }
    if role == Role::Operator && app::accounts::duties::operator_may(method.as_str(), path) {
        return true;
    }
    if app::accounts::duties::anyone_may(method.as_str(), path) {
        return true;
    }
    if path.starts_with("/rpc/") {
        return RPC_READS.contains(&path);
    }
    if path.starts_with("/api/") {
        return matches!(*method, Method::GET | Method::HEAD);
    }
    // Pages render for viewers; what they show is the server functions' business.
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewers_read_and_nothing_else_admins_do_everything() {
        assert!(allows(Role::Viewer, &Method::GET, "/api/v1/users"));
        assert!(!allows(Role::Viewer, &Method::POST, "/api/v1/users"));
        assert!(!allows(Role::Viewer, &Method::DELETE, "/api/v1/tokens/1"));
        assert!(!allows(Role::Viewer, &Method::PUT, "/api/v1/proxy-hosts/1"));
        assert!(allows(Role::Viewer, &Method::POST, "/rpc/decisions/list"));
        assert!(!allows(Role::Viewer, &Method::POST, "/rpc/decisions/ban"));
        assert!(!allows(Role::Viewer, &Method::POST, "/rpc/crowdsec/bouncer"));
        assert!(!allows(Role::Viewer, &Method::POST, "/rpc/a-function-added-tomorrow"));
        assert!(allows(Role::Viewer, &Method::GET, "/security"));
        assert!(allows(Role::Admin, &Method::POST, "/rpc/a-function-added-tomorrow"));
        assert!(allows(Role::Admin, &Method::DELETE, "/api/v1/tokens/1"));
    }

    #[test]
    fn operators_read_and_do_their_duties_only() {
        assert!(allows(Role::Operator, &Method::GET, "/api/v1/cerberus/crowdsec/decisions"));
        assert!(allows(Role::Operator, &Method::DELETE, "/api/v1/cerberus/crowdsec/decisions/7"));
        assert!(allows(Role::Operator, &Method::POST, "/rpc/allowlist/add"));
        assert!(allows(Role::Operator, &Method::POST, "/rpc/decisions/list"));
        assert!(!allows(Role::Operator, &Method::POST, "/api/v1/cerberus/crowdsec/start"));
        assert!(!allows(Role::Operator, &Method::POST, "/api/v1/tokens"));
        assert!(!allows(Role::Operator, &Method::POST, "/rpc/hub/install"));
        assert!(!allows(Role::Operator, &Method::POST, "/rpc/a-function-added-tomorrow"));
        assert!(!allows(Role::Viewer, &Method::POST, "/api/v1/cerberus/crowdsec/decisions"));
    }
}
