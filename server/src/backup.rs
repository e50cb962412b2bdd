//! `charon backup FILE` and `charon restore FILE`: one gzip'd tar of the data dir, taken while
//! Charon runs. The databases (Charon's and the engine's) go in as SQLite snapshots (`VACUUM
//! INTO`: consistent, without stopping anything); everything else as it is on disk: keys and
//! credentials, the engine's generated configuration and hub state, the bouncer's settings,
//! Caddy's state (certificates). Left out: logs, pid files and sockets, the WAL/SHM files of live
//! databases, and the evidence index (`evidence.db`, rebuilt from new requests). The archive holds
//! secrets: it is written 0600, and restore refuses a data dir that is not empty. A database on
//! PostgreSQL (`database_url`, `crowdsec_database_url`) is not in the data dir and not in the
//! archive: `pg_dump` backs it up.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use serde::{Deserialize, Serialize};

/// The first entry of every archive.
const MANIFEST: &str = "charon-backup.json";
const FORMAT: &str = "charon-backup/1";

/// The SQLite databases snapshotted rather than copied (relative to the data dir).
const DATABASES: [&str; 2] = ["charon.db", "crowdsec/data/crowdsec.db"];

#[derive(Serialize, Deserialize)]
struct Manifest {
    format: String,
    /// `charon --version` of the writer.
    charon: String,
    created_at: String,
    /// The data dir it was taken from: symbolic links into it are re-pointed on restore.
    data_dir: PathBuf,
}

pub struct Written {
    pub files: usize,
    pub bytes: u64,
}

/// What a backup leaves out, by path relative to the data dir.
fn left_out(rel: &Path) -> bool {
    let s = rel.to_string_lossy();
    let name = rel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    rel.starts_with("logs")
        || rel.starts_with("crowdsec/logs")
        || name.starts_with(".backup-")
        || name == "console.log"
        || name.ends_with(".pid")
        || name.ends_with(".sock")
        || name.ends_with("-wal")
        || name.ends_with("-shm")
        || name.ends_with("-journal")
        || name.starts_with("evidence.db")
        || DATABASES.iter().any(|d| s == *d)
}

/// Takes a consistent copy of a live SQLite database.
async fn snapshot(db: &Path, into: &Path) -> anyhow::Result<()> {
    use sqlx::ConnectOptions;
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .read_only(true)
        .busy_timeout(std::time::Duration::from_secs(30))
        .connect()
        .await
        .with_context(|| format!("cannot open {}", db.display()))?;
    sqlx::query("VACUUM INTO ?")
        .bind(into.to_string_lossy().into_owned())
        .execute(&mut conn)
        .await
        .with_context(|| format!("cannot snapshot {}", db.display()))?;
    Ok(())
}

/// A directory removed when dropped (the snapshots' staging place, inside the data dir: same
/// file system, same protection).
struct Staging(PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Writes the archive to `out` (which must not exist), 0600, through a temporary name.
/// `external_db`: Charon's database is in PostgreSQL, not in the data dir (`pg_dump` backs it up).
pub async fn backup(data_dir: &Path, out: &Path, external_db: bool) -> anyhow::Result<Written> {
    if !external_db && !data_dir.join("charon.db").exists() {
        bail!("{} holds no Charon database: nothing to back up", data_dir.display());
    }
    if out.exists() {
        bail!("{} exists; choose a new file name", out.display());
    }
    let staging = Staging(data_dir.join(format!(".backup-{}", std::process::id())));
    fs::create_dir_all(&staging.0)?;
    fs::set_permissions(&staging.0, fs::Permissions::from_mode(0o700))?;
    let mut snapshots = Vec::new();
    for (i, rel) in DATABASES.iter().enumerate() {
        let live = data_dir.join(rel);
        if live.exists() {
            let copy = staging.0.join(format!("{i}.db"));
            snapshot(&live, &copy).await?;
            snapshots.push((copy, *rel));
        }
    }
    let partial = out.with_file_name(format!(".{}.partial", out.file_name().and_then(|n| n.to_str()).unwrap_or("backup")));
    let file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
    let result = write_archive(file, data_dir, &snapshots);
    match result {
        Ok(files) => {
            fs::rename(&partial, out)?;
            Ok(Written { files, bytes: fs::metadata(out)?.len() })
        }
        Err(e) => {
            let _ = fs::remove_file(&partial);
            Err(e)
        }
    }
}

fn write_archive(file: File, data_dir: &Path, snapshots: &[(PathBuf, &str)]) -> anyhow::Result<usize> {
    let gz = flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(false);
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        charon: app::build_info::VERSION_LINE.to_owned(),
        created_at: crate::support::time::rfc3339(crate::support::time::now()),
        data_dir: std::path::absolute(data_dir)?,
    };
    let text = serde_json::to_vec_pretty(&manifest)?;
    let mut header = tar::Header::new_gnu();
    header.set_size(text.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(crate::support::time::now() as u64);
    tar.append_data(&mut header, MANIFEST, text.as_slice())?;
    let mut files = 0;
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in fs::read_dir(data_dir.join(&rel))? {
            let entry = entry?;
            let rel = rel.join(entry.file_name());
            if left_out(&rel) {
                continue;
            }
            let kind = entry.file_type()?;
            if kind.is_dir() {
                tar.append_dir(&rel, entry.path())?;
                stack.push(rel);
            } else if kind.is_file() || kind.is_symlink() {
                tar.append_path_with_name(entry.path(), &rel)?;
                files += 1;
            }
        }
    }
    for (copy, rel) in snapshots {
        tar.append_path_with_name(copy, rel)?;
        files += 1;
    }
    let gz = tar.into_inner()?;
    let mut out = gz.finish()?;
    out.flush()?;
    out.into_inner().map_err(|e| anyhow!("cannot write the archive: {}", e.error()))?.sync_all()?;
    Ok(files)
}

/// Unpacks `archive` into `data_dir`, which must be empty or absent; symbolic links into the
/// original data dir are re-pointed into this one, any other link is refused.
pub fn restore(archive: &Path, data_dir: &Path) -> anyhow::Result<usize> {
    if data_dir.exists() && fs::read_dir(data_dir)?.next().is_some() {
        bail!("{} is not empty: restore into an empty data dir (stop Charon and move the old one away first)", data_dir.display());
    }
    let file = File::open(archive).with_context(|| format!("cannot open {}", archive.display()))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    tar.set_preserve_permissions(true);
    tar.set_overwrite(false);
    let mut entries = tar.entries()?;
    let manifest: Manifest = {
        let mut first = entries.next().ok_or_else(|| anyhow!("{} is empty", archive.display()))??;
        if first.path()?.as_ref() != Path::new(MANIFEST) {
            bail!("{} is not a Charon backup (no {MANIFEST} first)", archive.display());
        }
        let mut text = String::new();
        first.read_to_string(&mut text)?;
        serde_json::from_str(&text).map_err(|e| anyhow!("{} is not a Charon backup: {e}", archive.display()))?
    };
    if manifest.format != FORMAT {
        bail!("{} is a {} archive; this Charon reads {FORMAT}", archive.display(), manifest.format);
    }
    fs::create_dir_all(data_dir)?;
    fs::set_permissions(data_dir, fs::Permissions::from_mode(0o700))?;
    let result = unpack(entries, archive, data_dir, &manifest.data_dir);
    if result.is_err() {
        // It was empty: a refused or broken archive leaves it so.
        for e in fs::read_dir(data_dir)?.flatten() {
            let _ = if e.file_type().is_ok_and(|t| t.is_dir()) { fs::remove_dir_all(e.path()) } else { fs::remove_file(e.path()) };
        }
    }
    result
}

fn unpack(entries: tar::Entries<'_, impl Read>, archive: &Path, data_dir: &Path, old_root: &Path) -> anyhow::Result<usize> {
    let new_root = std::path::absolute(data_dir)?;
    let mut files = 0;
    for entry in entries {
        let mut entry = entry?;
        let rel = entry.path()?.into_owned();
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            bail!("{} holds an unsafe path: {}", archive.display(), rel.display());
        }
        if entry.header().entry_type().is_symlink() {
            let target = entry.link_name()?.ok_or_else(|| anyhow!("a link without a target: {}", rel.display()))?.into_owned();
            let inside = target.strip_prefix(old_root).map_err(|_| anyhow!("{} links outside the data dir ({}): refused", rel.display(), target.display()))?;
            let dest = data_dir.join(&rel);
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent)?;
            }
            std::os::unix::fs::symlink(new_root.join(inside), &dest)?;
            files += 1;
            continue;
        }
        if !entry.unpack_in(data_dir)? {
            bail!("{} holds an unsafe path: {}", archive.display(), rel.display());
        }
        if entry.header().entry_type().is_file() {
            files += 1;
        }
    }
    Ok(files)
}
