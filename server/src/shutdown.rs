//! Signals → graceful shutdown. The handlers are installed by `install()` before the server
//! announces it is listening, so a signal sent right after that line is never lost to the default
//! action (which would kill the process without stopping the engine).
//!
//! SIGINT and SIGTERM stop the console and the engine; Caddy and the bouncer keep serving and are
//! adopted by the next console (a restart, an upgrade). SIGQUIT stops everything: the data plane
//! too (`systemctl stop` sends it; `systemctl restart` sends SIGTERM, see deploy/charon.service).

use tokio::signal::unix::{signal, Signal, SignalKind};

pub struct Shutdown {
    interrupt: Signal,
    terminate: Signal,
    quit: Signal,
}

/// What a signal asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The console and the engine; the data plane keeps serving.
    Console,
    /// Everything, the data plane included.
    Everything,
}

pub fn install() -> std::io::Result<Shutdown> {
    Ok(Shutdown {
        interrupt: signal(SignalKind::interrupt())?,
        terminate: signal(SignalKind::terminate())?,
        quit: signal(SignalKind::quit())?,
    })
}

impl Shutdown {
    /// Resolves at the first SIGINT, SIGTERM or SIGQUIT.
    pub async fn wait(mut self) -> Stop {
        tokio::select! {
            _ = self.interrupt.recv() => { tracing::info!("SIGINT received, shutting down (the data plane keeps serving)"); Stop::Console }
            _ = self.terminate.recv() => { tracing::info!("SIGTERM received, shutting down (the data plane keeps serving)"); Stop::Console }
            _ = self.quit.recv() => { tracing::info!("SIGQUIT received, shutting down with the data plane"); Stop::Everything }
        }
    }
}
