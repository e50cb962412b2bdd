//! SIGINT/SIGTERM → graceful shutdown. The handlers are installed by `install()` before the server
//! announces it is listening, so a signal sent right after that line is never lost to the default
//! action (which would kill the process without stopping the engine).

use tokio::signal::unix::{signal, Signal, SignalKind};

pub struct Shutdown {
    interrupt: Signal,
    terminate: Signal,
}

pub fn install() -> std::io::Result<Shutdown> {
    Ok(Shutdown {
        interrupt: signal(SignalKind::interrupt())?,
        terminate: signal(SignalKind::terminate())?,
    })
}

impl Shutdown {
    /// Resolves at the first SIGINT or SIGTERM.
    pub async fn wait(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => tracing::info!("SIGINT received, shutting down"),
            _ = self.terminate.recv() => tracing::info!("SIGTERM received, shutting down"),
        }
    }
}
