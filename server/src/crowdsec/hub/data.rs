//! The data files hub items read (word lists, regexes): declared in each item's YAML under
//! `data:`, and copied from Debian's offline copy, since downloading them needs the network.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::enable::safe_relative;

/// A data file an item needs: `dest_file` in the engine's data dir, downloaded from `source_url`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DataFile {
    pub source_url: String,
    pub dest_file: String,
}

#[derive(Deserialize)]
struct ItemDoc {
    #[serde(default)]
    data: Vec<DataFile>,
}

/// The data files an item's YAML (possibly several documents) declares.
pub fn data_files(item_file: &Path) -> anyhow::Result<Vec<DataFile>> {
    let text = std::fs::read_to_string(item_file)?;
    let mut out = Vec::new();
    for doc in serde_norway::Deserializer::from_str(&text) {
        // Documents without a `data` list (or of another shape) need nothing.
        if let Ok(d) = ItemDoc::deserialize(doc) {
            out.extend(d.data);
        }
    }
    Ok(out)
}

/// Makes sure every data file the enabled items in `config_dir` declare exists in `data_dir`,
/// copied from the offline source. Debian stores them under the source URL's file name, which is
/// not always `dest_file` (`path_traversal.txt` → `http_path_traversal.txt`). Returns the files
/// still missing.
pub fn provide_data_files(config_dir: &Path, data_dir: &Path, source: &Path) -> anyhow::Result<Vec<String>> {
    let files: Vec<PathBuf> =
        ["parsers", "scenarios", "postoverflows"].iter().flat_map(|k| yaml_files(&config_dir.join(k))).collect();
    provide_for(&files, data_dir, source)
}

/// The same for the given item files only (those an install enables).
pub fn provide_for(item_files: &[PathBuf], data_dir: &Path, source: &Path) -> anyhow::Result<Vec<String>> {
    let mut missing = Vec::new();
    for file in item_files {
        for df in data_files(file)? {
            let Some(dest) = safe_relative(&df.dest_file).filter(|p| p.components().count() == 1) else {
                continue;
            };
            let target = data_dir.join(&dest);
            if target.exists() {
                continue;
            }
            let by_url = df.source_url.rsplit('/').next().unwrap_or_default();
            let candidates = [source.join(&dest), source.join(by_url)];
            match candidates.iter().find(|c| c.is_file()) {
                Some(found) => {
                    std::fs::copy(found, &target)?;
                }
                None => missing.push(df.dest_file.clone()),
            }
        }
    }
    Ok(missing)
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(yaml_files(&p));
        } else if p.extension().is_some_and(|x| x == "yaml") {
            out.push(p);
        }
    }
    out
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_files_come_from_the_offline_source_even_under_another_name() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config/scenarios");
        let data = dir.path().join("data");
        let src = dir.path().join("src");
        for d in [&cfg, &data, &src] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(
            cfg.join("trav.yaml"),
            "name: a\ndata:\n  - source_url: https://x/web/path_traversal.txt\n    dest_file: http_path_traversal.txt\n    type: string\n---\nname: b\ndata:\n  - source_url: https://x/none.txt\n    dest_file: none.txt\n",
        )
        .unwrap();
        std::fs::write(src.join("path_traversal.txt"), "../\n").unwrap();
        let missing = provide_data_files(&dir.path().join("config"), &data, &src).unwrap();
        assert_eq!(std::fs::read_to_string(data.join("http_path_traversal.txt")).unwrap(), "../\n");
        assert_eq!(missing, vec!["none.txt".to_owned()]);
    }
}
