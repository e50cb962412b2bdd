//! The engine's accounts of edge nodes: each node gets a machine (its log processor pushes
//! alerts as it) and a bouncer key of its own, both named `node-<name>`, made by cscli on this
//! node (cscli writes the machine's generated password into a private file that is read and
//! removed at once; the key is read from its stdout). Removing a node deletes both, so its
//! credentials stop working at the Local API at once.

use std::collections::HashMap;

use super::credentials::MachineCredentials;
use super::CrowdSec;

/// What a new node gets.
pub struct NodeAccount {
    pub machine_login: String,
    pub machine_password: String,
    pub bouncer_key: String,
}

/// What the engine knows of a node's accounts (Go timestamps as it prints them).
#[derive(Debug, Clone, Default)]
pub struct NodeActivity {
    pub last_heartbeat: Option<String>,
    pub engine_version: Option<String>,
    pub last_pull: Option<String>,
}

impl CrowdSec {
    /// Makes (or makes again) the machine and bouncer named `engine_name`.
    pub async fn register_node(&self, engine_name: &str) -> anyhow::Result<NodeAccount> {
        let cscli = self.cscli().ok_or_else(|| anyhow::anyhow!("cscli is not installed"))?;
        self.ensure_generated().await?;
        let dir = self.layout().config_dir.join("nodes");
        std::fs::create_dir_all(&dir)?;
        crate::support::files::private(&dir)?;
        let file = dir.join(format!("{engine_name}.yaml"));
        let made = cscli.add_machine(engine_name, &file).await;
        let creds = made.map_err(anyhow::Error::from).and_then(|()| MachineCredentials::load(&file));
        let _ = std::fs::remove_file(&file);
        let creds = creds?;
        cscli.delete_bouncer(engine_name).await?;
        let key = match cscli.add_bouncer(engine_name).await {
            Ok(key) => key,
            Err(e) => {
                let _ = cscli.delete_machine(engine_name).await;
                return Err(e.into());
            }
        };
        Ok(NodeAccount { machine_login: creds.login.clone(), machine_password: creds.password().to_owned(), bouncer_key: key })
    }

    /// A new bouncer key for the node; the old one stops working at once.
    pub async fn rotate_node_key(&self, engine_name: &str) -> anyhow::Result<String> {
        let cscli = self.cscli().ok_or_else(|| anyhow::anyhow!("cscli is not installed"))?;
        cscli.delete_bouncer(engine_name).await?;
        Ok(cscli.add_bouncer(engine_name).await?)
    }

    /// Deletes the node's machine and bouncer at the engine.
    pub async fn remove_node(&self, engine_name: &str) -> anyhow::Result<()> {
        let cscli = self.cscli().ok_or_else(|| anyhow::anyhow!("cscli is not installed"))?;
        cscli.delete_bouncer(engine_name).await?;
        cscli.delete_machine(engine_name).await?;
        Ok(())
    }

    /// The engine's view of every machine and bouncer, by name.
    pub async fn node_activity(&self) -> anyhow::Result<HashMap<String, NodeActivity>> {
        let cscli = self.cscli().ok_or_else(|| anyhow::anyhow!("cscli is not installed"))?;
        let mut out: HashMap<String, NodeActivity> = HashMap::new();
        for (name, heartbeat, version) in cscli.list_machines().await? {
            let a = out.entry(name).or_default();
            a.last_heartbeat = heartbeat;
            a.engine_version = version;
        }
        for (name, pull) in cscli.list_bouncers().await? {
            out.entry(name).or_default().last_pull = pull;
        }
        Ok(out)
    }
}
