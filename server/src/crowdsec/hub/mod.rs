//! The CrowdSec hub, offline: its index (`index`), enabling and disabling items by links into the
//! hub (`enable`), and the data files items read (`data`).

mod change;
pub mod data;
pub mod enable;
pub mod index;
pub mod items;

pub use data::{data_files, provide_data_files, provide_for, DataFile};
pub use enable::{Enabler, Presence, Snapshot};
pub use index::{Index, IndexItem, ItemType};
pub use items::HubItems;

use sha2::{Digest, Sha256};

/// Hex sha256 of a file's content, as the index's `digest` spells it.
pub fn file_digest(path: &std::path::Path) -> std::io::Result<String> {
    Ok(hex::encode(Sha256::digest(std::fs::read(path)?)))
}
