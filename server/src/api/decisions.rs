//! REST routes of Live Decisions under `/api/v1/cerberus/crowdsec/`: list (filter, sort, page),
//! ban, unban by id or value, the allowlist, and a Server-Sent Events stream that fires on every
//! change.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream::Stream;
use serde::Deserialize;
use tokio_stream::StreamExt;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use app::decisions::model::{
    AllowAdded, AllowEntry, AllowFor, BanRequest, Decision, DecisionPage, DecisionQuery, IpOrRange, Reason, Scope, Shielded, UnbannedAndAllowed,
};
use app::services::Services;

use super::admin::AdminCaller;
use super::export::{self, Format, FormatQuery};
use super::error::ApiError;

pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Services: axum::extract::FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(list, ban, unban_value))
        .routes(routes!(events))
        .routes(routes!(unban_id))
        .routes(routes!(unban_and_allow))
        .routes(routes!(shielded))
        .routes(routes!(allow_list, allow_add, allow_remove))
        .routes(routes!(allow_remove_id))
}

type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

#[utoipa::path(get, path = "/api/v1/cerberus/crowdsec/decisions", tag = "decisions", security(("bearer" = []), ("session" = [])),
    params(
        ("q" = Option<String>, Query, description = "An address (decisions covering it), a CIDR (decisions inside it) or a substring of the value"),
        ("origin" = Option<String>, Query, description = "crowdsec, cscli, CAPI, charon, lists:…"),
        ("scenario" = Option<String>, Query, description = "A substring of the scenario"),
        ("type" = Option<String>, Query, description = "ban, captcha, …"),
        ("sort" = Option<String>, Query, description = "value, origin, scenario, type or until (default); a leading - reverses"),
        ("page" = Option<usize>, Query, description = "1-based"),
        ("per_page" = Option<usize>, Query, description = "Rows per page (at most 500)"),
        ("site" = Option<String>, Query, description = "A proxy-host domain: the decisions that apply there (every engine decision and the site-scoped bans on it)"),
        ("group" = Option<String>, Query, description = "address: one row per address or range in `groups`, its decisions folded in (paging counts addresses)"),
        ("format" = Option<String>, Query, description = "csv or json: every row the filters select as a download, streamed (at most 200 000; page and per_page are ignored)")
    ),
    responses((status = 200, body = DecisionPage, description = "A page; with format, a CSV (text/csv) or JSON array download of the rows"),
        (status = 400, description = "Unknown format, or more rows than one export may hold")))]
async fn list(
    State(s): State<Services>,
    q: Result<Query<DecisionQuery>, QueryRejection>,
    f: Result<Query<FormatQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (Query(q), Query(f)) = (q?, f?);
    Ok(match Format::parse(f.format.as_deref())? {
        Some(format) => export::download(format, "decisions", export::chunked(s.decisions.export(&q)?)),
        None => Json(s.decisions.list(&q)).into_response(),
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
struct BanBody {
    /// An address or a CIDR range.
    value: String,
    /// `4h`, `30m`, `7d`, …
    duration: String,
    #[serde(default)]
    reason: String,
    /// `ban` (default) or `captcha`.
    #[serde(default, rename = "type")]
    kind: String,
    /// Required for a range shorter than /8 (IPv4) or /32 (IPv6).
    #[serde(default)]
    force: bool,
    /// Required when the ban covers an address an administrator uses (a signed-in administrator's,
    /// the caller's own, or one in `admin_addresses`); without it such a ban answers 409.
    #[serde(default)]
    confirm: bool,
    /// Proxy-host domains: a site-scoped ban, enforced by Charon's bouncer on those sites only
    /// (not sent to the engine). Absent or empty: every site (an engine decision).
    #[serde(default)]
    sites: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/cerberus/crowdsec/decisions", tag = "decisions", security(("bearer" = ["admin", "operator"]), ("session" = ["admin", "operator"])),
    request_body = BanBody,
    responses((status = 201, body = Decision), (status = 400, description = "Invalid field"),
        (status = 403, description = "Neither an administrator nor an operator, or an operator's range wider than `operator_ban_max_prefix_v4`/`_v6` (`code`: `range_beyond_role`)"),
        (status = 409, description = "It covers an address an administrator uses (named in `address`); send `confirm: true`"),
        (status = 503, description = "LAPI not available")))]
async fn ban(State(s): State<Services>, AdminCaller(admin): AdminCaller, body: Body<BanBody>) -> Result<(StatusCode, Json<Decision>), ApiError> {
    let Json(b) = body?;
    let scope = Scope::parse(&b.sites, "", "")?;
    let req = BanRequest::parse(&b.value, &b.duration, &b.reason, &b.kind, b.force)?.confirmed(b.confirm).on_sites(scope.sites);
    Ok((StatusCode::CREATED, Json(s.decisions.ban(&admin, req).await?)))
}

#[derive(Deserialize)]
struct ValueQuery {
    value: String,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct Deleted {
    deleted: u64,
}

/// Deletes every decision on exactly this value.
#[utoipa::path(delete, path = "/api/v1/cerberus/crowdsec/decisions", tag = "decisions", security(("bearer" = ["admin", "operator"]), ("session" = ["admin", "operator"])),
    params(("value" = String, Query, description = "An address or a CIDR range")),
    responses((status = 200, body = Deleted), (status = 400, description = "Invalid value"),
        (status = 403, description = "Not an administrator"), (status = 503, description = "LAPI not available")))]
async fn unban_value(
    State(s): State<Services>,
    AdminCaller(admin): AdminCaller,
    q: Result<Query<ValueQuery>, QueryRejection>,
) -> Result<Json<Deleted>, ApiError> {
    let Query(q) = q?;
    let target = IpOrRange::parse(&q.value)?;
    Ok(Json(Deleted { deleted: s.decisions.unban_value(&admin, target).await? }))
}

#[utoipa::path(delete, path = "/api/v1/cerberus/crowdsec/decisions/{id}", tag = "decisions", security(("bearer" = ["admin", "operator"]), ("session" = ["admin", "operator"])),
    params(("id" = i64, Path, description = "The decision's id as listed (negative: a site-scoped ban)")),
    responses((status = 200, body = Deleted), (status = 403, description = "Not an administrator"),
        (status = 404, description = "No such decision"), (status = 503, description = "LAPI not available")))]
async fn unban_id(State(s): State<Services>, AdminCaller(admin): AdminCaller, Path(id): Path<i64>) -> Result<Json<Deleted>, ApiError> {
    Ok(Json(Deleted { deleted: s.decisions.unban(&admin, id).await? }))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct UnbanAndAllowBody {
    /// An address or a CIDR range.
    value: String,
    /// How long the allowlist entry lasts: `15m`, `1h`, `24h`, `7d` (at most 365 days); absent,
    /// empty or `forever`: until removed.
    #[serde(default)]
    duration: Option<String>,
    #[serde(default)]
    reason: String,
    /// Required for a range shorter than /8 (IPv4) or /32 (IPv6).
    #[serde(default)]
    force: bool,
    /// Proxy-host domains to allow it on only (absent or empty: every site).
    #[serde(default)]
    sites: Vec<String>,
    /// Only under this path prefix (canonical, e.g. `/public`).
    #[serde(default)]
    path_prefix: String,
    /// Only against decisions of this scenario.
    #[serde(default)]
    scenario: String,
}

/// Everywhere (no `sites`, `path_prefix` or `scenario`): deletes every decision and site-scoped
/// ban covering the address or range (for an address: also ranges holding it; for a range: also
/// decisions inside it) and allowlists it for a while, in one step: when the engine refuses the
/// deletion, nothing changes. With a scope: the decisions stay (they still apply elsewhere) and a
/// scoped exception lets the address through there for that while (`unbanned` is 0). Expired
/// entries leave the allowlist by themselves.
#[utoipa::path(post, path = "/api/v1/cerberus/crowdsec/decisions/unban-and-allow", tag = "decisions", security(("bearer" = ["admin", "operator"]), ("session" = ["admin", "operator"])),
    request_body = UnbanAndAllowBody,
    responses((status = 200, body = UnbannedAndAllowed), (status = 400, description = "Invalid field"),
        (status = 403, description = "Not an administrator"), (status = 503, description = "LAPI not available; nothing changed")))]
async fn unban_and_allow(
    State(s): State<Services>,
    AdminCaller(admin): AdminCaller,
    body: Body<UnbanAndAllowBody>,
) -> Result<Json<UnbannedAndAllowed>, ApiError> {
    let Json(b) = body?;
    let target = IpOrRange::parse_guarded(&b.value, b.force)?;
    let period = AllowFor::parse(b.duration.as_deref().unwrap_or(""))?;
    let reason = Reason::parse(&b.reason)?;
    let scope = Scope::parse(&b.sites, &b.path_prefix, &b.scenario)?;
    Ok(Json(s.decisions.unban_and_allow(&admin, target, period, scope, reason).await?))
}

/// Decisions from the engine or the lists that cover an address an administrator uses: the
/// bouncer does not enforce them for that address ("would have blocked you").
#[utoipa::path(get, path = "/api/v1/cerberus/crowdsec/decisions/shielded", tag = "decisions", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    responses((status = 200, body = Vec<Shielded>), (status = 403, description = "Not an administrator")))]
async fn shielded(State(s): State<Services>, AdminCaller(admin): AdminCaller) -> Result<Json<Vec<Shielded>>, ApiError> {
    Ok(Json(s.decisions.shielded(&admin).await?))
}

/// `changed` with the decision set's version now and after every change; clients refetch.
#[utoipa::path(get, path = "/api/v1/cerberus/crowdsec/decisions/events", tag = "decisions", security(("bearer" = []), ("session" = [])),
    responses((status = 200, description = "Server-Sent Events: `changed` with the version as data", content_type = "text/event-stream")))]
async fn events(State(s): State<Services>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = s.decisions.change_feed().map(|v| Ok(Event::default().event("changed").data(v.to_string())));
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[utoipa::path(get, path = "/api/v1/cerberus/crowdsec/allowlist", tag = "decisions", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Vec<AllowEntry>)))]
async fn allow_list(State(s): State<Services>) -> Result<Json<Vec<AllowEntry>>, ApiError> {
    Ok(Json(s.decisions.allowlist().await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct AllowBody {
    /// An address or a CIDR range.
    value: String,
    #[serde(default)]
    reason: String,
    /// Required for a range shorter than /8 (IPv4) or /32 (IPv6).
    #[serde(default)]
    force: bool,
    /// With any of the three below, a scoped exception enforced by Charon's bouncer: only on these
    /// proxy-host domains (absent or empty: every site) …
    #[serde(default)]
    sites: Vec<String>,
    /// … only for request paths under this canonical prefix (`/api/`) …
    #[serde(default)]
    path_prefix: String,
    /// … only against decisions of this scenario.
    #[serde(default)]
    scenario: String,
}

#[utoipa::path(post, path = "/api/v1/cerberus/crowdsec/allowlist", tag = "decisions", security(("bearer" = ["admin", "operator"]), ("session" = ["admin", "operator"])),
    request_body = AllowBody,
    responses((status = 201, body = AllowAdded), (status = 400, description = "Invalid field"),
        (status = 403, description = "Not an administrator"), (status = 409, description = "Already on the allowlist")))]
async fn allow_add(State(s): State<Services>, AdminCaller(admin): AdminCaller, body: Body<AllowBody>) -> Result<(StatusCode, Json<AllowAdded>), ApiError> {
    let Json(b) = body?;
    let target = IpOrRange::parse_guarded(&b.value, b.force)?;
    let reason = Reason::parse(&b.reason)?;
    let scope = Scope::parse(&b.sites, &b.path_prefix, &b.scenario)?;
    Ok((StatusCode::CREATED, Json(s.decisions.allow(&admin, target, scope, reason).await?)))
}

#[utoipa::path(delete, path = "/api/v1/cerberus/crowdsec/allowlist", tag = "decisions", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    params(("value" = String, Query, description = "The entry's address or range")),
    responses((status = 204, description = "Removed"), (status = 400, description = "Invalid value"),
        (status = 403, description = "Not an administrator"), (status = 404, description = "Not on the allowlist")))]
async fn allow_remove(
    State(s): State<Services>,
    AdminCaller(admin): AdminCaller,
    q: Result<Query<ValueQuery>, QueryRejection>,
) -> Result<StatusCode, ApiError> {
    let Query(q) = q?;
    let target = IpOrRange::parse(&q.value)?;
    s.decisions.disallow(&admin, target).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a scoped exception by the (negative) id the allowlist lists it with.
#[utoipa::path(delete, path = "/api/v1/cerberus/crowdsec/allowlist/{id}", tag = "decisions", security(("bearer" = ["admin"]), ("session" = ["admin"])),
    params(("id" = i64, Path, description = "A scoped exception's id as listed (negative)")),
    responses((status = 204, description = "Removed"), (status = 403, description = "Not an administrator"),
        (status = 404, description = "No such scoped exception")))]
async fn allow_remove_id(State(s): State<Services>, AdminCaller(admin): AdminCaller, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    s.decisions.disallow_id(&admin, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
