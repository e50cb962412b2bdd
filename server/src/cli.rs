//! The `charon` command line: `serve` (default), `admin …`, the break-glass `unban`, `backup` and
//! `restore`. Passwords are read from stdin,
//! tokens are printed once to stdout; neither ever appears in argv.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use app::accounts::model::{Admin, AuthMethod, Password, Principal, Role, TokenName, Username};
use app::services::AccountService;

use crate::accounts::Accounts;
use crate::config::Config;

#[derive(Debug, Parser)]
#[command(name = "charon", version = app::build_info::VERSION_LINE, about = "Charon: a self-hosted security console for CrowdSec")]
pub struct Cli {
    /// TOML configuration file (also `CHARON_CONFIG`).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Data directory (overrides `CHARON_DATA_DIR` and the file).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web console (the default).
    Serve,
    /// Run the forward-auth bouncer (the console starts it; settings come from the data dir).
    Bouncer,
    /// Check LAPI, CAPI, enrollment, heartbeat and configuration; exit status 1 when a check fails.
    Diagnose {
        /// Machine-readable output (typed values).
        #[arg(long)]
        json: bool,
    },
    /// Break glass: unblock ADDRESS from the server's shell, even with the web UI unreachable.
    /// Deletes every decision covering it at the engine (when the engine answers) and allowlists
    /// it; the bouncer follows within a second. Recorded in the audit log.
    Unban {
        /// An address or a CIDR range.
        address: String,
        /// How long the allowlist entry lasts (`15m`, `1h`, `7d`); without it, until removed.
        #[arg(long)]
        allow_for: Option<String>,
    },
    /// Write one archive of everything Charon keeps (databases as consistent snapshots, keys,
    /// credentials, generated configuration, proxy hosts) while it runs. The file (mode 0600)
    /// holds secrets; it must not exist yet.
    Backup {
        file: PathBuf,
    },
    /// Bring back a backup into an empty data dir (stop Charon first; then start it).
    Restore {
        file: PathBuf,
    },
    /// Run an edge node of a fleet: Caddy, the bouncer and a CrowdSec log processor against the
    /// central node's Local API. The first run joins with the command the Nodes page shows.
    Node {
        /// The central node's fleet address (`https://central:8443`), on the first run.
        #[arg(long)]
        join: Option<String>,
        /// The one-time join token (it names the central node's CA). `--token-stdin` keeps it
        /// off the command line.
        #[arg(long, requires = "join")]
        token: Option<String>,
        /// Read the join token from stdin.
        #[arg(long, requires = "join", conflicts_with = "token")]
        token_stdin: bool,
        /// This node's name (default: its host name).
        #[arg(long, requires = "join")]
        name: Option<String>,
    },
    /// Manage accounts and API tokens.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

/// `charon node`: the join settings from the flags (the token from stdin when asked).
pub async fn run_node(config: Config, join: Option<String>, token: Option<String>, token_stdin: bool, name: Option<String>) -> anyhow::Result<()> {
    let join = match join {
        None => None,
        Some(url) => {
            let token = match (token, token_stdin) {
                (Some(t), _) => t,
                (None, true) => {
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line)?;
                    line.trim().to_owned()
                }
                (None, false) => anyhow::bail!("--join needs --token TOKEN or --token-stdin"),
            };
            Some(crate::fleet::edge::Join { url, token, name })
        }
    };
    crate::fleet::edge::run(config, join).await
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a user (an administrator unless `--role viewer`).
    Create {
        #[arg(long)]
        username: String,
        /// Read the password from stdin (the only way; it never goes on the command line).
        #[arg(long)]
        password_stdin: bool,
        #[arg(long, value_enum, default_value_t = RoleArg::Admin)]
        role: RoleArg,
    },
    /// Set a new password (read from stdin) and sign the user out everywhere.
    ResetPassword {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// API tokens for the REST API.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once.
    Create(TokenCreate),
    /// Revoke tokens by id or by name.
    Revoke {
        #[arg(long, conflicts_with = "name", required_unless_present = "name")]
        id: Option<i64>,
        #[arg(long)]
        name: Option<String>,
    },
    /// List active tokens (never their secrets).
    List,
}

#[derive(Debug, Args)]
pub struct TokenCreate {
    #[arg(long)]
    pub name: String,
    #[arg(long, value_enum, default_value_t = RoleArg::Admin)]
    pub role: RoleArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Admin,
    Operator,
    Viewer,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Admin => Role::Admin,
            RoleArg::Operator => Role::Operator,
            RoleArg::Viewer => Role::Viewer,
        }
    }
}

/// Loads the configuration with the command line's overrides applied.
pub fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(dir) = &cli.data_dir {
        config.data_dir = dir.clone();
    }
    Ok(config)
}

/// One password line from stdin: hidden prompt on a terminal, plain read from a pipe.
fn read_password(prompt: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let line = if stdin.is_terminal() {
        rpassword::prompt_password(prompt)?
    } else {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        line
    };
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn parse_password(raw: &str) -> anyhow::Result<Password> {
    Password::parse(raw).map_err(|code| {
        anyhow::anyhow!(match code {
            app::error::ErrorCode::PasswordTooShort => format!(
                "the password must be at least {} characters long",
                app::accounts::model::PASSWORD_MIN
            ),
            _ => format!("the password must be at most {} characters long", app::accounts::model::PASSWORD_MAX),
        })
    })
}

fn parse_username(raw: &str) -> anyhow::Result<Username> {
    Username::parse(raw).map_err(|_| {
        anyhow::anyhow!("a username has 3 to 32 characters: letters, digits, '.', '_' or '-'")
    })
}

fn describe(e: app::error::AppError) -> anyhow::Error {
    use app::error::{AppError, ErrorCode};
    match e {
        AppError::Invalid { code: ErrorCode::UsernameTaken } => anyhow::anyhow!("that username is already taken"),
        AppError::NotFound => anyhow::anyhow!("no such user or token"),
        other => anyhow::anyhow!("{other} (details in the log above)"),
    }
}

/// The administrator `cli`: whoever can run `charon` on the server can read the data dir.
fn cli_admin() -> Admin {
    Admin::check(Principal { user_id: 0, username: "cli".into(), role: Role::Admin, method: AuthMethod::Cli, token_name: None, address: None, session: None })
        .expect("an admin principal")
}

/// `charon unban ADDRESS [--allow-for D]`: the allowlist entry first (the bouncer stops blocking
/// within a second, whatever the engine's state), then the engine's decisions when it answers.
pub async fn run_unban(config: Config, address: &str, allow_for: Option<&str>) -> anyhow::Result<()> {
    use app::decisions::model::{AllowFor, IpOrRange, Reason};
    let target = IpOrRange::parse_guarded(address, false).map_err(|e| anyhow::anyhow!("{address}: {e}"))?;
    let period = AllowFor::parse(allow_for.unwrap_or("")).map_err(|e| anyhow::anyhow!("--allow-for: {e}"))?;
    let reason = Reason::parse("break glass: charon unban").expect("a valid reason");
    crate::support::files::ensure_private_dir(&config.data_dir)?;
    let db = crate::db::connect(&config).await?;
    let engine = crate::crowdsec::CrowdSec::new(db.clone(), &config);
    let proxy = crate::proxy::Proxy::for_shell(db.clone(), engine.clone(), &config);
    let cache = std::sync::Arc::new(crate::bouncer::cache::DecisionCache::new());
    let allowlist = crate::decisions::allowlist::Allowlist::new(db.clone(), cache.clone(), engine.clone(), proxy.clone());
    let scoped = crate::decisions::scoped::ScopedRules::new(db.clone(), cache, proxy);
    let admin = cli_admin();
    let entry = allowlist.allow_from_shell(&admin, &target, period, &reason).await.map_err(|e| anyhow::anyhow!("cannot allowlist {address}: {}", e.message()))?;
    // Charon's own site-scoped bans: from its database (a running console follows by itself).
    let scoped_deleted = scoped
        .remove_bans(|v| crate::decisions::allowlist::covers(&target, &crate::bouncer::cache::Subject::Address(v)))
        .await
        .map_err(|e| anyhow::anyhow!("cannot delete the site-scoped bans on {address}: {}", e.message()))?;
    let deleted = delete_at_engine(&engine, &target).await;
    let and_scoped = if scoped_deleted > 0 { format!(" and {scoped_deleted} site-scoped ban(s) in Charon") } else { String::new() };
    let until = entry.expires_at.clone().map(|t| format!("until {t}")).unwrap_or_else(|| "until removed".to_owned());
    let detail = match &deleted {
        Ok(n) => format!("{n} decisions deleted{and_scoped}, allowed {until} (break glass)"),
        Err(e) => format!("engine not reached ({e}): its decisions stay but are not enforced; {scoped_deleted} site-scoped bans deleted, allowed {until} (break glass)"),
    };
    crate::db::audit::by(&db, &admin, "decision.break_glass", &entry.value, &detail).await;
    match deleted {
        Ok(n) => eprintln!("{}: {n} decision(s) deleted at the engine{and_scoped}; allowlisted {until}.", entry.value),
        Err(e) => eprintln!(
            "{}: the engine did not answer ({e}); its decisions stay but are not enforced for this address{}. Allowlisted {until}.",
            entry.value,
            if scoped_deleted > 0 { format!("; {scoped_deleted} site-scoped ban(s) in Charon were deleted") } else { String::new() }
        ),
    }
    eprintln!("The bouncer follows within a second; a running console updates the engine's whitelist within 5 seconds.");
    Ok(())
}

/// Logs in to the engine's LAPI with the machine credentials in the data dir (this process did not
/// start the engine: the console did) and deletes every decision covering `target`.
async fn delete_at_engine(engine: &crate::crowdsec::CrowdSec, target: &app::decisions::model::IpOrRange) -> anyhow::Result<u64> {
    let creds = engine.machine_credentials()?;
    let jwt = engine.lapi().login(&creds.login, creds.password()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut n = 0;
    for q in crate::decisions::covering_queries(target) {
        n += engine.lapi().delete_decisions(&jwt.token, None, &q).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(n)
}

pub async fn run_admin(config: Config, command: AdminCommand) -> anyhow::Result<()> {
    // Like `serve`: a fresh machine may run `charon admin create` before the server ever started.
    crate::support::files::ensure_private_dir(&config.data_dir)?;
    let db = crate::db::connect(&config).await?;
    let accounts = Accounts::new(db.clone());
    // Whoever can run this command can read the data dir: they act as the administrator `cli`.
    let cli = cli_admin();
    match command {
        AdminCommand::Create { username, password_stdin: _, role } => {
            let username = parse_username(&username)?;
            let password = parse_password(&read_password("Password: ")?)?;
            let user = accounts
                .create_user(&cli, username, password, role.into())
                .await
                .map_err(describe)?;
            if user.role == Role::Admin {
                // An administrator exists now: the setup page is gone, so is its code.
                crate::auth::setup_code::remove(&config.data_dir);
            }
            eprintln!("created {} ({})", user.username, user.role.as_str());
        }
        AdminCommand::ResetPassword { username, password_stdin: _ } => {
            let username = parse_username(&username)?;
            let password = parse_password(&read_password("New password: ")?)?;
            let revoked = accounts
                .reset_password(&cli, &username, password)
                .await
                .map_err(describe)?;
            eprintln!(
                "password of {} reset; its sessions were ended and {revoked} API token(s) it created were revoked",
                username.as_str()
            );
            // The way back in when passwords were turned off for single sign-on.
            if crate::auth::sign_in_settings::turn_passwords_on(&db, &config).await? {
                crate::db::audit::by(&db, &cli, "settings.sign_in", "sign-in", "password sign-in on again (admin reset-password)").await;
                eprintln!("password sign-in was off: it is on again (a running console follows within 5 seconds)");
            }
        }
        AdminCommand::Token { command } => match command {
            TokenCommand::Create(TokenCreate { name, role }) => {
                let name = TokenName::parse(&name)
                    .map_err(|_| anyhow::anyhow!("a token name has 1 to 64 visible characters"))?;
                let created = accounts
                    .create_token(&cli, name, role.into())
                    .await
                    .map_err(describe)?;
                eprintln!(
                    "token #{} \"{}\" ({}) created; it is shown only this once:",
                    created.summary.id,
                    created.summary.name,
                    created.summary.role.as_str()
                );
                println!("{}", created.token);
            }
            TokenCommand::Revoke { id: Some(id), .. } => {
                accounts.revoke_token(&cli, id).await.map_err(describe)?;
                eprintln!("token #{id} revoked");
            }
            TokenCommand::Revoke { name: Some(name), .. } => {
                let n = accounts.revoke_tokens_named(&cli, &name).await.map_err(describe)?;
                if n == 0 {
                    anyhow::bail!("no active token is named \"{name}\"");
                }
                eprintln!("{n} token(s) named \"{name}\" revoked");
            }
            TokenCommand::Revoke { .. } => anyhow::bail!("give --id or --name"),
            TokenCommand::List => {
                for t in crate::db::api_tokens::list_active(&db).await? {
                    let t = t.summary();
                    println!("{}\t{}\t{}…\t{}\t{}", t.id, t.name, t.prefix, t.role.as_str(), t.created_at);
                }
            }
        },
    }
    Ok(())
}

/// `charon backup FILE`.
pub async fn run_backup(config: Config, file: &std::path::Path) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let external = config.postgres_url().is_some();
    let written = crate::backup::backup(&config.data_dir, file, external).await?;
    if external {
        eprintln!("Charon's database is in PostgreSQL (database_url): this archive holds the data dir only; back the database up with pg_dump");
    }
    eprintln!(
        "{}: {} files, {} bytes in {:.1} s (it holds secrets: keep it private; mode 0600)",
        file.display(),
        written.files,
        written.bytes,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `charon restore FILE`.
pub fn run_restore(config: Config, file: &std::path::Path) -> anyhow::Result<()> {
    let files = crate::backup::restore(file, &config.data_dir)?;
    eprintln!("{}: {files} files restored into {}; start Charon to use them", file.display(), config.data_dir.display());
    Ok(())
}
