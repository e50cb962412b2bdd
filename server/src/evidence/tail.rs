//! Following the access log: new complete lines since the last read, across Caddy's rotations
//! (the file is renamed and a new one created: the rest of the old one is read through the handle
//! still open, then the new one from its start) and across restarts (the file's inode and offset
//! are kept with the index, so a restart resumes where it stopped; a file rotated away while
//! Charon was down is not read back).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// A line longer than this is dropped (Caddy's lines are a few KiB).
const LINE_MAX: usize = 64 * 1024;

pub struct Tail {
    path: PathBuf,
    file: Option<File>,
    /// Where the next read starts, in the file with this inode.
    pub inode: u64,
    pub offset: u64,
    partial: Vec<u8>,
    skipping: bool,
}

impl Tail {
    /// Resumes at `offset` when the file at `path` is still the one with `inode`.
    pub fn new(path: PathBuf, inode: u64, offset: u64) -> Self {
        Tail { path, file: None, inode, offset, partial: Vec::new(), skipping: false }
    }

    /// Up to about `max_bytes` of new complete lines.
    pub fn read(&mut self, max_bytes: usize) -> std::io::Result<Vec<String>> {
        let mut lines = Vec::new();
        let mut budget = max_bytes;
        for _ in 0..2 {
            if self.file.is_none() && !self.open()? {
                return Ok(lines);
            }
            let n = self.read_some(&mut lines, budget)?;
            budget = budget.saturating_sub(n);
            if n > 0 || !self.rotated()? {
                break;
            }
            // The old file is read to its end and another one has its name: go on there.
            self.file = None;
            self.inode = 0;
            self.offset = 0;
            self.partial.clear();
        }
        Ok(lines)
    }

    fn open(&mut self) -> std::io::Result<bool> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        if meta.ino() != self.inode || meta.len() < self.offset {
            self.inode = meta.ino();
            self.offset = 0;
        }
        file.seek(SeekFrom::Start(self.offset))?;
        self.file = Some(file);
        Ok(true)
    }

    fn rotated(&self) -> std::io::Result<bool> {
        match std::fs::metadata(&self.path) {
            Ok(m) => Ok(m.ino() != self.inode),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn read_some(&mut self, lines: &mut Vec<String>, budget: usize) -> std::io::Result<usize> {
        let file = self.file.as_mut().expect("open");
        let mut buf = vec![0u8; budget.clamp(4096, 4 * 1024 * 1024)];
        let mut total = 0;
        while total < budget {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            total += n;
            self.offset += n as u64;
            let mut chunk = &buf[..n];
            while let Some(i) = chunk.iter().position(|&b| b == b'\n') {
                if !self.skipping && self.partial.len() + i <= LINE_MAX {
                    self.partial.extend_from_slice(&chunk[..i]);
                    lines.push(String::from_utf8_lossy(&self.partial).into_owned());
                }
                self.partial.clear();
                self.skipping = false;
                chunk = &chunk[i + 1..];
            }
            if self.partial.len() + chunk.len() > LINE_MAX {
                self.partial.clear();
                self.skipping = true;
            } else if !self.skipping {
                self.partial.extend_from_slice(chunk);
            }
        }
        Ok(total)
    }

    /// The offset of the first byte not yet returned as part of a line (what to resume from).
    pub fn resume_offset(&self) -> u64 {
        self.offset - self.partial.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn lines_are_followed_across_partial_writes_rotation_and_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let mut f = File::create(&path).unwrap();
        write!(f, "one\ntw").unwrap();
        let mut t = Tail::new(path.clone(), 0, 0);
        assert_eq!(t.read(1 << 20).unwrap(), vec!["one"]);
        write!(f, "o\nthree\n").unwrap();
        assert_eq!(t.read(1 << 20).unwrap(), vec!["two", "three"]);
        // Rotation: the rest of the old file, then the new one.
        write!(f, "four\n").unwrap();
        std::fs::rename(&path, dir.path().join("access-1.log")).unwrap();
        let mut g = File::create(&path).unwrap();
        write!(g, "five\n").unwrap();
        assert_eq!(t.read(1 << 20).unwrap(), vec!["four"]);
        assert_eq!(t.read(1 << 20).unwrap(), vec!["five"]);
        // A restart resumes where it stopped.
        write!(g, "six\n").unwrap();
        let mut again = Tail::new(path.clone(), t.inode, t.resume_offset());
        assert_eq!(again.read(1 << 20).unwrap(), vec!["six"]);
        // A line too long is dropped whole.
        write!(g, "{}\nseven\n", "x".repeat(LINE_MAX + 10)).unwrap();
        let read = again.read(1 << 20).unwrap();
        assert_eq!(read.iter().map(String::len).collect::<Vec<_>>(), vec![5], "only \"seven\"");
    }
}
