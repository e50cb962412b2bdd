//! The contract between the UI layer and the server's services. `app` defines it, `server`
//! implements it, so `app` never depends on `server`. Server functions reach the implementation
//! through the `Services` context value the server provides for every request; the REST handlers
//! call the same objects (one road per operation). Every method that changes something or reveals
//! a secret takes an [`Admin`], which only an administrator's principal can become.

use std::sync::Arc;

use crate::alerts::model::{Alert, AlertFilter, AlertPage};
use crate::audit::model::{AuditEntry, AuditFilter, AuditPage};
use crate::error::AppError;
use crate::decisions::model::{AllowFor, Scope, Shielded, UnbannedAndAllowed, 
    AllowAdded, AllowEntry, ImportProgress, ImportRequest, BanRequest, Decision, DecisionPage, DecisionQuery, IpOrRange, Reason,
};
use crate::fleet::model::{JoinToken, Node, NodeName};
use crate::hub::model::{HubChange, HubItem, HubItemDetail, HubItemRef, HubQuery};
use crate::console::model::{ConfigCheck, Connectivity, EnrollRequest, EnrollmentStatus};
use crate::overview::model::{Overview, Range};
use crate::notify::model::{Channel, ChannelInput, ChannelSaved, DigestPreview, HistoryPage, HistoryQuery, TestResult};
use crate::proxy::model::{DataPlaneStatus, ProxyHost, ProxyHostSpec};
use crate::security::model::{BouncerInfo, EngineStatus, SelfTestReport};
use crate::accounts::model::{
    Admin, ApiTokenSummary, NewApiToken, Password, Principal, Role, SessionInfo, SignInSettings, SignInSettingsInput, TokenName, TotpSetup, TwoFactorStatus, UserSummary,
    Username,
};

/// A live feed (Server-Sent Events are built from it).
pub type Feed<T> = futures::stream::BoxStream<'static, T>;

#[async_trait::async_trait]
pub trait AccountService: Send + Sync {
    async fn list_users(&self) -> Result<Vec<UserSummary>, AppError>;
    async fn create_user(
        &self,
        actor: &Admin,
        username: Username,
        password: Password,
        role: Role,
    ) -> Result<UserSummary, AppError>;
    async fn list_tokens(&self) -> Result<Vec<ApiTokenSummary>, AppError>;
    async fn create_token(
        &self,
        actor: &Admin,
        name: TokenName,
        role: Role,
    ) -> Result<NewApiToken, AppError>;
    async fn revoke_token(&self, actor: &Admin, id: i64) -> Result<(), AppError>;
    /// The caller's live sessions, or everyone's (`everyone`, administrators only: 403 otherwise).
    async fn sessions(&self, caller: &Principal, everyone: bool) -> Result<Vec<SessionInfo>, AppError>;
    /// Ends one of the caller's sessions (an administrator's: anyone's); 404 for any other.
    async fn end_session(&self, caller: &Principal, id: &str) -> Result<(), AppError>;
}

/// TOTP as a second factor for the caller's own local account; requiring it is an administrator's.
#[async_trait::async_trait]
pub trait TwoFactorService: Send + Sync {
    async fn status(&self, caller: &Principal) -> Result<TwoFactorStatus, AppError>;
    /// A new secret to set up (kept pending until confirmed); refused while one is on.
    async fn begin(&self, caller: &Principal) -> Result<TotpSetup, AppError>;
    /// Turns the pending secret on with one of its codes; returns the ten recovery codes, once.
    async fn confirm(&self, caller: &Principal, code: &str) -> Result<Vec<String>, AppError>;
    /// Turns it off, given a current code or a recovery code.
    async fn disable(&self, caller: &Principal, code: &str) -> Result<(), AppError>;
    async fn set_required(&self, actor: &Admin, required: bool) -> Result<(), AppError>;
}

/// How people sign in: single sign-on and local passwords (administrators).
#[async_trait::async_trait]
pub trait SignInService: Send + Sync {
    async fn settings(&self, actor: &Admin) -> Result<SignInSettings, AppError>;
    /// Checks the provider (its discovery document must answer for this issuer) and refuses to
    /// turn password sign-in off before an administrator has signed in through the provider.
    async fn save(&self, actor: &Admin, input: SignInSettingsInput) -> Result<SignInSettings, AppError>;
}

/// The CrowdSec engine and its bouncer key.
#[async_trait::async_trait]
pub trait SecurityService: Send + Sync {
    fn engine_status(&self) -> EngineStatus;
    /// The current status, then one per change.
    fn status_feed(&self) -> Feed<EngineStatus>;
    async fn set_engine_enabled(
        &self,
        actor: &Admin,
        enabled: bool,
    ) -> Result<EngineStatus, AppError>;
    /// The bouncer's registration, its key masked. Admin only, like the key itself: it names the
    /// key file and where the key comes from.
    async fn bouncer_info(&self, actor: &Admin) -> Result<BouncerInfo, AppError>;
    /// The full key; implementations audit every read.
    async fn bouncer_key(&self, actor: &Admin) -> Result<String, AppError>;
    async fn rotate_bouncer_key(&self, actor: &Admin) -> Result<BouncerInfo, AppError>;
}

/// Live Decisions: list, ban, unban.
#[async_trait::async_trait]
pub trait DecisionService: Send + Sync {
    fn list(&self, query: &DecisionQuery) -> DecisionPage;
    /// Every row the query's filters select, in its order (no paging); `ExportTooLarge` past
    /// `EXPORT_DECISIONS_MAX`.
    fn export(&self, query: &DecisionQuery) -> Result<Vec<Decision>, AppError>;
    /// The decision set's version now, then after every change.
    fn change_feed(&self) -> Feed<u64>;
    async fn ban(&self, actor: &Admin, request: BanRequest) -> Result<Decision, AppError>;
    async fn unban(&self, actor: &Admin, id: i64) -> Result<u64, AppError>;
    async fn unban_value(&self, actor: &Admin, target: IpOrRange) -> Result<u64, AppError>;
    async fn allowlist(&self) -> Result<Vec<AllowEntry>, AppError>;
    /// An allowlist entry, or with a narrower `scope` (sites, path prefix, scenario) a scoped
    /// exception enforced by Charon's bouncer.
    async fn allow(&self, actor: &Admin, target: IpOrRange, scope: Scope, reason: Reason) -> Result<AllowAdded, AppError>;
    /// Removes a scoped exception by the (negative) id the allowlist lists it with.
    async fn disallow_id(&self, actor: &Admin, id: i64) -> Result<(), AppError>;
    async fn disallow(&self, actor: &Admin, target: IpOrRange) -> Result<(), AppError>;
    /// Decisions from the engine or the lists that cover an address an administrator uses (not
    /// enforced for it), with that address.
    async fn shielded(&self, actor: &Admin) -> Result<Vec<Shielded>, AppError>;
    /// Everywhere (`scope` empty): deletes every decision and site-scoped ban covering the address
    /// or range and allowlists it for a while, in one step (when the engine refuses the deletion,
    /// the allowlist is as before). With a scope: the decisions stay and an exception lets the
    /// address through on the scope's sites (and path) for that while.
    async fn unban_and_allow(&self, actor: &Admin, target: IpOrRange, period: AllowFor, scope: Scope, reason: Reason) -> Result<UnbannedAndAllowed, AppError>;
    /// Reads the list and starts sending its decisions to the engine in batches, in the
    /// background; answers at once with the job's id and size (`ListInvalid` when the list cannot
    /// be read, `LapiUnavailable` when the engine does not answer).
    async fn import(&self, actor: &Admin, request: ImportRequest) -> Result<ImportProgress, AppError>;
    /// Where an import stands; `None` for an unknown (or long finished) id.
    fn import_progress(&self, id: u64) -> Option<ImportProgress>;
}

/// Alerts: why something was decided. Read-only; anyone signed in may read them.
#[async_trait::async_trait]
pub trait AlertService: Send + Sync {
    async fn list(&self, filter: &AlertFilter) -> Result<AlertPage, AppError>;
    /// Every alert the filter selects, newest first (no paging); `ExportTooLarge` past the depth
    /// paging reaches.
    async fn export(&self, filter: &AlertFilter) -> Result<Vec<Alert>, AppError>;
    /// One alert with its events; `NotFound` for an unknown id.
    async fn get(&self, id: i64) -> Result<Alert, AppError>;
}

/// The audit log: read by administrators only (it names who did what).
#[async_trait::async_trait]
pub trait AuditService: Send + Sync {
    async fn list(&self, actor: &Admin, filter: &AuditFilter) -> Result<AuditPage, AppError>;
    /// Every entry the filter selects, newest first, read a chunk at a time.
    fn export(&self, actor: &Admin, filter: &AuditFilter) -> Feed<Result<Vec<AuditEntry>, AppError>>;
}

/// Hub presets: the catalogue, item details, install and remove (serialised, verified, rolled
/// back on failure by the implementation).
#[async_trait::async_trait]
pub trait HubService: Send + Sync {
    async fn list(&self, query: &HubQuery) -> Result<Vec<HubItem>, AppError>;
    async fn detail(&self, item: &HubItemRef) -> Result<HubItemDetail, AppError>;
    async fn install(&self, actor: &Admin, item: HubItemRef) -> Result<HubChange, AppError>;
    async fn remove(&self, actor: &Admin, item: HubItemRef) -> Result<HubChange, AppError>;
}

/// Proxy hosts and the data plane (Caddy + bouncer) status.
#[async_trait::async_trait]
pub trait ProxyService: Send + Sync {
    async fn list(&self) -> Result<Vec<ProxyHost>, AppError>;
    async fn create(&self, actor: &Admin, spec: ProxyHostSpec) -> Result<ProxyHost, AppError>;
    async fn update(&self, actor: &Admin, id: i64, spec: ProxyHostSpec) -> Result<ProxyHost, AppError>;
    async fn delete(&self, actor: &Admin, id: i64) -> Result<(), AppError>;
    async fn status(&self) -> DataPlaneStatus;
    /// The enforcement self-test (see `SelfTestReport`); implementations audit it.
    async fn self_test(&self, actor: &Admin) -> Result<SelfTestReport, AppError>;
}

/// Console enrollment, the heartbeat and diagnostics.
#[async_trait::async_trait]
pub trait ConsoleService: Send + Sync {
    /// The agent name used when the form leaves it empty (the host name).
    fn default_agent_name(&self) -> String;
    async fn status(&self) -> Result<EnrollmentStatus, AppError>;
    async fn enroll(&self, actor: &Admin, request: EnrollRequest) -> Result<EnrollmentStatus, AppError>;
    async fn heartbeat(&self, actor: &Admin) -> Result<EnrollmentStatus, AppError>;
    async fn clear(&self, actor: &Admin) -> Result<EnrollmentStatus, AppError>;
    async fn connectivity(&self) -> Connectivity;
    async fn config_checks(&self) -> Vec<ConfigCheck>;
}

/// Notification channels, their history, and the engine's alerts coming in.
#[async_trait::async_trait]
pub trait NotificationService: Send + Sync {
    /// Every channel, secrets masked.
    async fn channels(&self) -> Result<Vec<Channel>, AppError>;
    async fn create_channel(&self, actor: &Admin, input: ChannelInput) -> Result<ChannelSaved, AppError>;
    /// Changes what `input` gives; secrets not given are kept.
    async fn update_channel(&self, actor: &Admin, id: i64, input: ChannelInput) -> Result<ChannelSaved, AppError>;
    async fn delete_channel(&self, actor: &Admin, id: i64) -> Result<(), AppError>;
    /// Sends a test message now; records it in the history.
    async fn test_channel(&self, actor: &Admin, id: i64) -> Result<TestResult, AppError>;
    async fn history(&self, query: &HistoryQuery) -> Result<HistoryPage, AppError>;
    /// Sends the channel's digest about the period that ends now (daily when it has none);
    /// records it in the history.
    async fn send_digest(&self, actor: &Admin, id: i64) -> Result<DigestPreview, AppError>;
    /// Queues a sent or failed message again; the new message's id.
    async fn resend(&self, actor: &Admin, id: i64) -> Result<i64, AppError>;
    /// The engine's notification plugin posting alerts with `Authorization: Bearer <token>`; how
    /// many alerts it carried. `Unauthorized` without this start's token.
    async fn engine_alerts(&self, authorization: Option<&str>, body: &[u8]) -> Result<usize, AppError>;
}

/// The Overview's numbers: counted locally from the access log's traffic history and the event log.
#[async_trait::async_trait]
pub trait OverviewService: Send + Sync {
    async fn overview(&self, range: Range) -> Result<Overview, AppError>;
}

/// The fleet's edge nodes: join tokens, the list with each node's health, removal.
#[async_trait::async_trait]
pub trait NodeService: Send + Sync {
    /// A one-time token for one new node; its secret is shown once.
    async fn create_join_token(&self, actor: &Admin) -> Result<JoinToken, AppError>;
    async fn list(&self) -> Result<Vec<Node>, AppError>;
    /// Asks the node to replace its bouncer key; it does at its next call (within a second while it
    /// runs), and the old key stops working then.
    async fn request_key_rotation(&self, actor: &Admin, name: NodeName) -> Result<(), AppError>;
    /// Revokes the node's machine and bouncer key at the engine at once and forgets it.
    async fn remove(&self, actor: &Admin, name: NodeName) -> Result<(), AppError>;
}

/// `GET /metrics`: Charon's own metrics in the Prometheus text format.
#[async_trait::async_trait]
pub trait MetricsService: Send + Sync {
    async fn scrape(&self) -> Result<String, AppError>;
}

#[derive(Clone)]
pub struct Services {
    pub accounts: Arc<dyn AccountService>,
    pub security: Arc<dyn SecurityService>,
    pub decisions: Arc<dyn DecisionService>,
    pub alerts: Arc<dyn AlertService>,
    pub audit: Arc<dyn AuditService>,
    pub hub: Arc<dyn HubService>,
    pub proxy: Arc<dyn ProxyService>,
    pub console: Arc<dyn ConsoleService>,
    pub notifications: Arc<dyn NotificationService>,
    pub overview: Arc<dyn OverviewService>,
    pub metrics: Arc<dyn MetricsService>,
    pub two_factor: Arc<dyn TwoFactorService>,
    pub sign_in: Arc<dyn SignInService>,
    pub nodes: Arc<dyn NodeService>,
}
