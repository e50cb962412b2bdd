//! The engine's own output: appended to `logs/crowdsec.log`, echoed to Charon's log, the last
//! lines kept for error messages, and what a start reports loading (`Loaded`).

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex as StdMutex};

use tokio::io::{AsyncBufReadExt, BufReader};

/// Longer lines are cut here before they are kept or echoed.
const MAX_LINE: usize = 16 * 1024;

/// The parser, postoverflow and scenario files and the scenarios the engine reported loading at
/// its last start (its own log: `Loaded N parser nodes file=…`, `Adding <kind> bucket file=…
/// name=…`). This is how a hub install is verified: the engine, not the file system, says what
/// runs. Files, not names: a hub item's index name is not always the name of the scenario(s) its
/// file defines (`crowdsecurity/CVE-2022-46169` defines `…-bf` and `…-cmd`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    pub files: std::collections::HashSet<PathBuf>,
    pub scenarios: std::collections::HashSet<String>,
}

impl Loaded {
    /// Records what one start-up log line reports.
    pub fn observe(&mut self, line: &str) {
        if line.contains("msg=\"Loaded ") && line.contains(" parser nodes\"") {
            if let Some(f) = logrus_field(line, "file") {
                self.files.insert(PathBuf::from(f));
            }
        } else if line.contains("msg=\"Adding ") && line.contains(" bucket\"") {
            if let Some(f) = logrus_field(line, "file") {
                self.files.insert(PathBuf::from(f));
            }
            if let Some(n) = logrus_field(line, "name") {
                self.scenarios.insert(n);
            }
        }
    }
}

/// The value of `key=` in a logrus text line (`key=value` or `key="quoted \" value"`).
fn logrus_field(line: &str, key: &str) -> Option<String> {
    let pat = format!(" {key}=");
    let start = line.find(&pat)? + pat.len();
    let rest = &line[start..];
    if let Some(quoted) = rest.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = quoted.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push(chars.next()?),
                '"' => return Some(out),
                c => out.push(c),
            }
        }
        None
    } else {
        Some(rest.split_whitespace().next().unwrap_or_default().to_owned())
    }
}

/// The engine's output: appended to `logs/crowdsec.log`, echoed to Charon's log, and the last
/// lines kept for error messages.
#[derive(Clone)]
pub(super) struct EngineLog {
    file: Arc<StdMutex<std::fs::File>>,
    tail: Arc<StdMutex<VecDeque<String>>>,
    starting: Arc<std::sync::atomic::AtomicBool>,
    processing: Arc<std::sync::atomic::AtomicBool>,
    loaded: Arc<StdMutex<Loaded>>,
}

impl EngineLog {
    pub(super) fn open(path: &Path, loaded: Arc<StdMutex<Loaded>>) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Ok(EngineLog {
            file: Arc::new(StdMutex::new(file)),
            tail: Arc::new(StdMutex::new(VecDeque::new())),
            starting: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            processing: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            loaded,
        })
    }

    /// The agent finished loading and reads its sources.
    pub(super) fn processing(&self) -> bool {
        self.processing.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(super) fn ready(&self) {
        self.starting.store(false, std::sync::atomic::Ordering::Relaxed);
    }

    pub(super) fn pump(&self, stream: impl tokio::io::AsyncRead + Unpin + Send + 'static) {
        let this = self.clone();
        tokio::spawn(async move {
            // Read until the end of the stream whatever arrives: a pump that stopped (on a line
            // that is not UTF-8, say) would let the pipe fill, and the engine blocks on its next
            // log line — the LAPI with it.
            let mut reader = BufReader::new(stream);
            let mut raw = Vec::new();
            loop {
                raw.clear();
                match reader.read_until(b'\n', &mut raw).await {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!("[CROWDSEC] cannot read the engine's output: {e}");
                        break;
                    }
                }
                raw.truncate(MAX_LINE);
                let line = String::from_utf8_lossy(&raw);
                let line = line.trim_end_matches(['\n', '\r']);
                if line.contains("Starting processing data") {
                    this.processing.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                if let Ok(mut f) = this.file.lock() {
                    let _ = writeln!(f, "{line}");
                }
                if this.starting.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Ok(mut l) = this.loaded.lock() {
                        l.observe(line);
                    }
                    tracing::info!("[CROWDSEC_STARTUP] {line}");
                } else if line.contains("level=error") || line.contains("level=fatal") {
                    tracing::warn!("[CROWDSEC] {line}");
                } else {
                    tracing::debug!("[CROWDSEC] {line}");
                }
                if let Ok(mut t) = this.tail.lock() {
                    t.push_back(line.to_owned());
                    if t.len() > 20 {
                        t.pop_front();
                    }
                }
            }
        });
    }

    /// The most telling recent line: the last fatal/error, else the last line.
    pub(super) fn tail(&self) -> String {
        let t = self.tail.lock().map(|t| t.clone()).unwrap_or_default();
        let pick = t
            .iter()
            .rev()
            .find(|l| l.contains("level=fatal") || l.contains("level=error"))
            .or_else(|| t.back())
            .cloned()
            .unwrap_or_default();
        match pick.split_once("msg=\"") {
            Some((_, rest)) => rest.trim_end_matches('"').to_owned(),
            None => pick,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_pump_reads_past_lines_that_are_not_utf8_so_the_pipe_never_fills() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crowdsec.log");
        let log = EngineLog::open(&path, Arc::default()).unwrap();
        let (mut tx, rx) = tokio::io::duplex(1024);
        log.pump(rx);
        let mut input = b"level=info msg=\"one\"\nlevel=info msg=\"bad \xff\xfe byte\"\n".to_vec();
        // Far more than a pipe holds after the bad line: written only if the pump keeps reading.
        for i in 0..2000 {
            input.extend_from_slice(format!("level=info msg=\"line {i}\"\n").as_bytes());
        }
        let written = tokio::time::timeout(std::time::Duration::from_secs(5), tokio::io::AsyncWriteExt::write_all(&mut tx, &input)).await;
        written.expect("the pump stopped reading: the pipe is full").unwrap();
        drop(tx);
        let t0 = std::time::Instant::now();
        while !std::fs::read_to_string(&path).unwrap_or_default().contains("line 1999") {
            assert!(t0.elapsed() < std::time::Duration::from_secs(5), "the pump stopped");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("bad \u{fffd}\u{fffd} byte"), "kept, with replacement characters");
        assert_eq!(log.tail(), "line 1999");
    }

    #[test]
    fn start_up_lines_name_the_loaded_parsers_and_scenarios() {
        let mut l = Loaded::default();
        for line in [
            r#"time="25-11-2026 17:48:33" level=info msg="Loaded 1 parser nodes" file=/d/config/parsers/s01-parse/caddy-logs.yaml stage=s01-parse"#,
            r#"time="25-11-2026 17:48:33" level=info msg="Loaded 1 parser nodes" file="/d i r/config/parsers/s02-enrich/x.yaml" stage=s02-enrich"#,
            r#"time="25-11-2026 17:48:33" level=info msg="Adding leaky bucket" cfg=holy-sea file=/d/config/scenarios/a.yaml name=crowdsecurity/http-probing"#,
            r#"time="25-11-2026 17:48:33" level=info msg="Adding trigger bucket" cfg=divine-sea file=/d/s.yaml name=crowdsecurity/CVE-2022-26134"#,
            r#"time="25-11-2026 17:48:33" level=warning msg="Loaded 35 scenarios""#,
        ] {
            l.observe(line);
        }
        assert!(l.files.contains(Path::new("/d/config/parsers/s01-parse/caddy-logs.yaml")));
        assert!(l.files.contains(Path::new("/d i r/config/parsers/s02-enrich/x.yaml")));
        assert!(l.files.contains(Path::new("/d/config/scenarios/a.yaml")));
        assert_eq!(l.files.len(), 4);
        let mut s: Vec<_> = l.scenarios.into_iter().collect();
        s.sort();
        assert_eq!(s, ["crowdsecurity/CVE-2022-26134", "crowdsecurity/http-probing"]);
    }
}
