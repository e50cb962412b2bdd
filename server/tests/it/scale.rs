//! 100 000 decisions in the real engine (`cscli decisions import`), synced into the cache (all of
//! them: the periodic full resync catches what 1.4.6's deltas miss), filtered and paged through the
//! REST API. It asserts correctness only and prints sync time, filter latency and the server's RSS
//! growth; the numbers in docs/benchmarks.md come from a release build:
//! `cargo test --release -p server --test it scale -- --nocapture`.


use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use super::common::*;
use serde_json::Value;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark (imports 100 000 decisions); run by `make bench`"]
async fn one_hundred_thousand_decisions() {
    const N: u32 = 100_000;
    let app = spawn_app_with(|c| {
        c.decision_sync_interval_ms = 1000;
        c.decision_full_resync_secs = 5;
    })
    .await;
    let admin = setup_admin(&app).await;
    assert_eq!(admin.post(app.url("/api/v1/cerberus/crowdsec/start")).send().await.unwrap().status(), 200);

    let csv = app.dir.path().join("decisions.csv");
    let mut f = std::fs::File::create(&csv).unwrap();
    writeln!(f, "duration,scope,value,reason,origin").unwrap();
    for i in 0..N {
        let (scope, value) = if i % 10 == 0 {
            ("Range", format!("{}.{}.{}.0/24", 11 + (i >> 16) % 200, (i >> 8) & 255, i & 255))
        } else {
            ("Ip", format!("{}.{}.{}.{}", 11 + (i >> 24) % 200, (i >> 16) & 255, (i >> 8) & 255, i & 255))
        };
        writeln!(f, "24h,{scope},{value},scale-test-{},lists", i % 8).unwrap();
    }
    drop(f);
    let rss_before = rss_kib();
    let t0 = Instant::now();
    // crowdsec 1.4.6's SQLite sometimes answers a bulk import with "database is locked" while the
    // LAPI is busy (each stream poll writes the bouncer's last_pull); re-importing is harmless,
    // the stream de-duplicates per value.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let out = Command::new("cscli")
            .arg("-c")
            .arg(app.state.crowdsec.layout().config_file())
            .args(["decisions", "import", "-i"])
            .arg(&csv)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            break;
        }
        assert!(attempts < 3 && stderr.contains("database is locked"), "{stderr}");
        println!("  import attempt {attempts} hit 'database is locked'; retrying");
    }
    let imported = t0.elapsed();
    println!("MEASURE import of {N} decisions by cscli: {:.1} s (cache already has {})", imported.as_secs_f64(), app.state.decisions.cache().len());
    let cache = app.state.decisions.cache().clone();
    let t1 = Instant::now();
    let mut last = 0;
    while cache.len() < N as usize {
        if cache.len() != last {
            last = cache.len();
            println!("  {:.1} s: {last}", t1.elapsed().as_secs_f64());
        }
        assert!(t1.elapsed() < Duration::from_secs(60), "synced only {}", cache.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let synced = t1.elapsed();
    let rss_after = rss_kib();

    let mut timings = Vec::new();
    for query in ["?q=11.0.0.0/8&per_page=50", "?q=11.0.1.7", "?origin=cscli-import&page=100", "?type=ban&sort=-value", ""] {
        let mut best = Duration::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            let v: Value = admin
                .get(app.url(&format!("/api/v1/cerberus/crowdsec/decisions{query}")))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            best = best.min(t.elapsed());
            assert!(v["total"].as_u64().unwrap() > 0, "{query}");
        }
        timings.push((query, best));
    }
    println!("MEASURE cache sync after import: {:.1} s", synced.as_secs_f64());
    println!(
        "MEASURE RSS growth: {} KiB ({:.1} MB per 100 000 decisions)",
        rss_after.saturating_sub(rss_before),
        rss_after.saturating_sub(rss_before) as f64 / 1024.0 * 100_000.0 / N as f64
    );
    for (q, t) in timings {
        println!("MEASURE warm filter {q:?}: {:.1} ms", t.as_secs_f64() * 1e3);
    }
    admin.post(app.url("/api/v1/cerberus/crowdsec/stop")).send().await.unwrap();
}
