//! `capi-sim [ADDR]`: CrowdSec's Central API simulated on loopback, for demos and manual tests
//! (`CHARON_CAPI_URL=http://127.0.0.1:8099/`). Admin routes: `POST /admin/accept`,
//! `POST /admin/faults {"delay_ms","status","count"}`, `POST /admin/blocklist ["203.0.113.1",…]`,
//! `POST /admin/keys {"invalid":[…],"expired":[…]}`,
//! `GET /admin/state`. Never part of the production path.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8099".into());
    let addr: std::net::SocketAddr = addr.parse().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{e}")))?;
    if !addr.ip().is_loopback() {
        eprintln!("capi-sim: listen on loopback only");
        std::process::exit(2);
    }
    let sim = capi_sim::CapiSim::new();
    let bound = sim.serve(addr).await?;
    eprintln!("capi-sim listening on http://{bound}/");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
