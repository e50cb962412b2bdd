//! 100 000 decisions in the real engine (`cscli decisions import`), synced into the cache (all of
//! them: the periodic full resync catches what 1.4.6's deltas miss), filtered and paged through the
//! REST API. It asserts correctness only and prints sync time, filter latency and the server's RSS
//! growth; the numbers in docs/benchmarks.md come from a release build:
//! `cargo test --release -p server --test it scale -- --nocapture`.


use charon::on_tx;
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

fn dir_bytes(dir: &std::path::Path, prefix: &str) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

/// The evidence index with 1 000 000 requests (50 000 visitors, 7 days, 300 user agents):
/// insert rate, bytes on disk, the console's memory growth, and the lookup an alert's page makes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark (indexes 1 000 000 requests); run by `make bench`"]
async fn evidence_index_of_a_million_requests() {
    use charon::evidence::access_log::Seen;
    use std::net::{IpAddr, Ipv4Addr};
    const N: i64 = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("evidence.db");
    let trusted = vec!["127.0.0.0/8".parse().unwrap()];
    let index = charon::evidence::EvidenceIndex::open(&file, dir.path().join("access.log"), trusted, 7, 2_000_000).await.unwrap();
    let start_ms = (charon::support::time::now() - 7 * 86_400) * 1000;
    let step_ms = 7 * 86_400_000 / N;
    let rss_before = rss_kib();
    let t0 = Instant::now();
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..N {
        let visitor = (i * 7919) % 50_000;
        batch.push(Seen {
            at_ms: start_ms + i * step_ms,
            ip: IpAddr::V4(Ipv4Addr::from(0xC633_0000u32 + visitor as u32)),
            host: format!("site{}.example", i % 5),
            method: if i % 10 == 0 { "POST".into() } else { "GET".into() },
            path: format!("/shop/item/{}?ref=campaign-{}", i % 10_000, i % 37),
            status: if i % 50 == 0 { 403 } else { 200 },
            user_agent: format!("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{}.0 Safari/537.36", 100 + i % 300),
            refused: i % 50 == 0,
            checked: true,
        });
        if batch.len() == 10_000 {
            // With the traffic history's counts, as the reader writes them.
            let mut tally = charon::evidence::traffic::Tally::default();
            for s in &batch {
                tally.count(s, s.refused.then(|| "crowdsec".to_owned()));
            }
            index.store().insert(&batch, &tally, 1, i as u64).await.unwrap();
            batch.clear();
        }
    }
    let took = t0.elapsed();
    let rows = index.store().count().await.unwrap();
    assert_eq!(rows, N);
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&sqlx::SqlitePool::connect(&format!("sqlite://{}", file.display())).await.unwrap()).await.unwrap();
    let bytes = dir_bytes(dir.path(), "evidence.db");
    println!("MEASURE evidence index: {N} requests inserted in {:.1} s ({:.0}/s)", took.as_secs_f64(), N as f64 / took.as_secs_f64());
    println!("MEASURE evidence index: {:.0} MB on disk per million requests ({bytes} bytes)", bytes as f64 / 1e6);
    println!("MEASURE evidence index: console RSS growth while indexing {} MiB", (rss_kib().saturating_sub(rss_before)) / 1024);

    // An alert on one visitor that lasted the whole week (its 20 requests are in the window).
    let target = app::decisions::model::IpOrRange::parse("198.51.12.34").unwrap();
    let mut times = Vec::new();
    let mut found = 0;
    for round in 0..21 {
        let t = Instant::now();
        let e = index.about(&target, start_ms + 3_600_000, start_ms + 7 * 86_400_000).await.unwrap();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        if round == 0 {
            found = e.requests_total;
            assert!(found > 0 && e.indexed_since.is_some());
        }
    }
    let (first, mut warm) = (times[0], times[1..].to_vec());
    warm.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("MEASURE evidence lookup for one address in {N} requests ({found} in its window): first {first:.1} ms, warm median {:.2} ms, max {:.2} ms", warm[warm.len() / 2], warm[warm.len() - 1]);
    // A whole /24 (a range alert).
    let range = app::decisions::model::IpOrRange::parse("198.51.0.0/24").unwrap();
    let t = Instant::now();
    let e = index.about(&range, start_ms, start_ms + 7 * 86_400_000).await.unwrap();
    println!("MEASURE evidence lookup for a /24 over the whole week: {:.1} ms ({} requests, {} refused sites)", t.elapsed().as_secs_f64() * 1000.0, e.requests_total, e.refused.len());
    // Purging a day's worth by age.
    let t = Instant::now();
    let gone = index.store().purge(start_ms + 86_400_000, 2_000_000).await.unwrap();
    println!("MEASURE evidence purge of the oldest day ({gone} rows): {:.2} s", t.elapsed().as_secs_f64());
    assert!(gone > 100_000);
}

/// 10 000 alerts in the engine: the Alerts list, filtered and not, as the page asks for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark (posts 10 000 alerts to the engine); run by `make bench`"]
async fn alerts_list_with_ten_thousand_alerts() {
    let app = spawn_app().await;
    let admin = setup_admin(&app).await;
    assert_eq!(admin.post(app.url("/api/v1/cerberus/crowdsec/start")).send().await.unwrap().status(), 200);
    let session = charon::crowdsec::lapi::MachineSession::new(app.state.crowdsec.clone());
    let stamp = charon::support::time::rfc3339(charon::support::time::now());
    let t0 = Instant::now();
    for chunk in 0..100 {
        let alerts: Vec<Value> = (0..100)
            .map(|j| {
                let i = chunk * 100 + j;
                let ip = format!("10.{}.{}.{}", i / 65_536, (i / 256) % 256, i % 256);
                serde_json::json!({
                    "scenario": format!("bench/scenario-{}", i % 20), "scenario_hash": "", "scenario_version": "",
                    "message": "bench", "events_count": 1, "start_at": stamp, "stop_at": stamp, "capacity": 0, "leakspeed": "0",
                    "simulated": false, "events": [], "remediation": true,
                    "source": {"scope": "Ip", "value": ip, "ip": ip},
                    "decisions": [{"duration": "4h", "origin": "crowdsec", "scenario": format!("bench/scenario-{}", i % 20), "scope": "Ip", "type": "ban", "value": ip}]
                })
            })
            .collect();
        let body = Value::Array(alerts);
        session
            .call(|t| {
                let body = body.clone();
                let engine = app.state.crowdsec.clone();
                async move { engine.lapi().post_alerts(&t, &body).await }
            })
            .await
            .unwrap();
    }
    println!("MEASURE posting 10 000 alerts: {:.1} s", t0.elapsed().as_secs_f64());
    for (label, query) in [
        ("first page, no filter", "per_page=50"),
        ("scenario filter", "scenario=bench/scenario-7&per_page=50"),
        ("address filter", "q=10.0.3.7"),
        ("range filter", "q=10.0.0.0/24&per_page=50"),
        ("page 20", "page=20&per_page=50"),
    ] {
        let mut times = Vec::new();
        for _ in 0..6 {
            let t = Instant::now();
            let (status, page) = app.get_json(&admin, &format!("/api/v1/cerberus/crowdsec/alerts?{query}")).await;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(status, 200, "{page}");
            assert!(!page["rows"].as_array().unwrap().is_empty(), "{query}: {page}");
        }
        let mut warm = times[1..].to_vec();
        warm.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!("MEASURE alerts list, 10 000 alerts, {label}: first {:.0} ms, warm median {:.0} ms", times[0], warm[warm.len() / 2]);
    }
}

/// The Overview over 30 days of history at 100 requests per second on 5 sites (259 200 000
/// requests: in the traffic tables that is 48 h of minute rows and 30 days of hour rows, whatever
/// the rate), 30 000 bans, and 200 000 refused requests in the evidence index; the server-side
/// time of `GET /api/v1/overview?range=30d` (target ≤ 150 ms) and the tables' size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark (30 days of traffic history); run by `make bench`"]
async fn overview_of_thirty_days() {
    let app = spawn_app().await;
    let admin = setup_admin(&app).await;
    let pool = app.state.evidence.store().pool().clone();
    let now = charon::support::time::now();
    let sites = ["a.example", "b.example", "c.example", "d.example", "e.example"];
    let origins = ["crowdsec", "CAPI", "lists:firehol", "charon"];
    let file_bytes = |pool: sqlx::SqlitePool, path: std::path::PathBuf| async move {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&pool).await.unwrap();
        std::fs::metadata(path).unwrap().len()
    };
    let before = file_bytes(pool.clone(), app.state.config.evidence_path()).await;
    let mut tx = pool.begin().await.unwrap();
    // 100 req/s = 6 000 a minute, 1 200 per site: 2 % refused, spread over the origins.
    for m in 0..(48 * 60) {
        let at = (now / 60 - m) * 60;
        for site in sites {
            let mut rows = vec![("allowed", "", 1176)];
            rows.extend(origins.iter().map(|o| ("blocked", *o, 6)));
            for (outcome, origin, n) in rows {
                sqlx::query("INSERT INTO traffic_minute (at, site, outcome, origin, count) VALUES ($1, $2, $3, $4, $5)").bind(at).bind(site).bind(outcome).bind(origin).bind(n).execute(&mut *tx).await.unwrap();
            }
        }
    }
    for h in 0..(30 * 24) {
        let at = (now / 3600 - h) * 3600;
        for site in sites {
            let mut rows = vec![("allowed", "", 1176 * 60)];
            rows.extend(origins.iter().map(|o| ("blocked", *o, 6 * 60)));
            for (outcome, origin, n) in rows {
                sqlx::query("INSERT INTO traffic_hour (at, site, outcome, origin, count) VALUES ($1, $2, $3, $4, $5)").bind(at).bind(site).bind(outcome).bind(origin).bind(n).execute(&mut *tx).await.unwrap();
            }
        }
    }
    tx.commit().await.unwrap();
    let bytes = file_bytes(pool.clone(), app.state.config.evidence_path()).await.saturating_sub(before);
    let mut tx = pool.begin().await.unwrap();
    for i in 0..200_000i64 {
        let ip = std::net::IpAddr::V4(std::net::Ipv4Addr::from(0xCB00_7100u32 + (i % 5000) as u32));
        sqlx::query("INSERT INTO requests (at, ip, host, method, path, status, agent, refused) VALUES ($1, $2, $3, 'GET', '/', 403, 0, 1)")
            .bind((now - 30 * 86_400) * 1000 + i * 12_960)
            .bind(&charon::evidence::store::key(ip)[..])
            .bind(sites[(i % 5) as usize])
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let mut tx = app.state.db.begin().await.unwrap();
    for i in 0..30_000i64 {
        on_tx!(&mut tx, cx => sqlx::query("INSERT INTO event_log (at, kind, value, scenario, origin, site, country) VALUES ($1, 'ban', $2, $3, 'crowdsec', $4, $5)")
            .bind(now - 30 * 86_400 + i * 86)
            .bind(format!("198.51.{}.{}", (i / 250) % 250, i % 250))
            .bind(format!("crowdsecurity/scenario-{}", i % 40))
            .bind(sites[(i % 5) as usize])
            .bind(["FR", "DE", "US", "CN", "BR", "RU"][(i % 6) as usize])
            .execute(cx)
            .await
            .map(|_| ()))
        .unwrap();
    }
    // The engine restarted every 12 h, down a minute each time.
    for d in 0..60i64 {
        let at = now - 30 * 86_400 + d * 43_200;
        for (t, mark) in [(at, "failed"), (at + 60, "running")] {
            on_tx!(&mut tx, cx => sqlx::query("INSERT INTO event_log (at, kind, value) VALUES ($1, 'engine', $2)").bind(t).bind(mark).execute(cx).await.map(|_| ())).unwrap();
        }
    }
    tx.commit().await.unwrap();
    // The bouncer's sync lag, sampled every 10 s: 48 h of minutes and 30 days of hours.
    let mut tx = pool.begin().await.unwrap();
    for m in 0..(48 * 60) {
        sqlx::query("INSERT INTO sync_lag_minute (at, samples, max_lag) VALUES ($1, 6, $2)").bind((now / 60 - m) * 60).bind(m % 3).execute(&mut *tx).await.unwrap();
    }
    for h in 0..(30 * 24) {
        sqlx::query("INSERT INTO sync_lag_hour (at, samples, max_lag) VALUES ($1, 360, $2)").bind((now / 3600 - h) * 3600).bind(h % 5).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut times = Vec::new();
    for _ in 0..21 {
        let t = Instant::now();
        let (status, o) = app.get_json(&admin, "/api/v1/overview?range=30d").await;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(status, 200);
        // The range ends with the running 6-hour bar, so its start cuts off up to 6 h of the oldest.
        let full = 5 * 1176 * 60 * (30 * 24) as u64;
        assert!(o["allowed"].as_u64().unwrap() > full * 98 / 100, "{}", o["allowed"]);
        assert!(o["bans"].as_u64().unwrap() > 29_000, "{}", o["bans"]);
        assert_eq!(o["blocked_by_origin"].as_array().unwrap().len(), 4);
        // 40 scenarios: the five largest and "other" stack every bar, and add up to the bans.
        assert_eq!(o["scenarios"].as_array().unwrap().len(), 6);
        let stacked: u64 = o["series"].as_array().unwrap().iter().flat_map(|b| b["bans_by_scenario"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap())).sum();
        assert_eq!(stacked, o["bans"].as_u64().unwrap());
        // Six countries: all listed, adding up to the bans; the scenarios' top list holds ten.
        let countries: u64 = o["bans_by_country"].as_array().unwrap().iter().map(|c| c["count"].as_u64().unwrap()).sum();
        assert_eq!((o["bans_by_country"].as_array().unwrap().len(), countries), (6, o["bans"].as_u64().unwrap()));
        assert_eq!(o["bans_by_scenario"].as_array().unwrap().len(), 10);
        assert!(o["engine_up_permille"].as_u64().is_some_and(|p| (990..1000).contains(&p)), "{}", o["engine_up_permille"]);
        assert_eq!(o["sync_lag_max_seconds"], 4);
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("MEASURE overview 30d (5 sites, 4 origins, 30 000 bans in 40 scenarios, 120 engine marks, sync lag rows, 200 000 refused requests): p50 {:.1} ms, max {:.1} ms", times[10], times[20]);
    println!("MEASURE traffic history on disk: {bytes} bytes for 48 h of minutes + 30 days of hours ({:.2} MB a day of minute rows at this traffic)", bytes as f64 / 1e6 * (48.0 * 60.0 / (48.0 * 60.0 + 30.0 * 24.0)) / 2.0);
}

/// 1 000 000 decisions in the central engine's PostgreSQL, synced by a fresh edge node's bouncer
/// through the fleet listener (TLS): the time from `charon node --join` to a complete cache (the
/// bouncer starts from the central console's decisions, then follows the engine), and the
/// bouncer process's memory then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark (a million decisions in PostgreSQL); run by `make bench`"]
async fn a_million_decisions_in_postgresql_reach_a_fresh_edge_node() {
    const N: u64 = 1_000_000;
    let Some(pg) = super::fleet::Postgres::start() else {
        println!("SKIPPED: PostgreSQL is not installed (scripts/setup.sh --test installs it)");
        return;
    };
    pg.create_database("crowdsec", "bench-password-1");
    let fleet_port = free_port();
    let fleet_url = format!("https://127.0.0.1:{fleet_port}");
    let app = spawn_app_with(|c| {
        c.crowdsec_database_url = Some(charon::config::Secret::new(format!("postgres://crowdsec:bench-password-1@127.0.0.1:{}/crowdsec", pg.port)));
        c.fleet_listen = Some(format!("127.0.0.1:{fleet_port}").parse().unwrap());
        c.fleet_url = Some(fleet_url.clone());
    })
    .await;
    tokio::spawn(charon::fleet::front::serve(app.state.fleet.clone(), std::future::pending()));
    let admin = setup_admin(&app).await;
    assert_eq!(admin.post(app.url("/api/v1/cerberus/crowdsec/start")).send().await.unwrap().status(), 200);
    let ban = |value: &'static str, reason: &'static str| {
        let (admin, url) = (admin.clone(), app.url("/api/v1/cerberus/crowdsec/decisions"));
        async move {
            let res = admin.post(url).json(&serde_json::json!({"value": value, "duration": "24h", "reason": reason})).send().await.unwrap();
            assert_eq!(res.status(), 201);
        }
    };
    // One real decision is the template of the million (its alert, its columns as 1.4.6 writes them).
    ban("192.0.2.1", "template").await;
    let columns: Vec<String> = pg
        .psql("crowdsec", "SELECT column_name FROM information_schema.columns WHERE table_name = 'decisions' AND column_name <> 'id' ORDER BY ordinal_position")
        .lines()
        .map(str::to_owned)
        .collect();
    let select: Vec<String> = columns
        .iter()
        .map(|c| match c.as_str() {
            "value" => "'11.' || (g / 65536) || '.' || ((g / 256) % 256) || '.' || (g % 256)".to_owned(),
            "start_ip" | "end_ip" => "(184549376 + g)".to_owned(),
            "scenario" => "'bench-' || (g % 8)".to_owned(),
            "until" => "now() + interval '24 hours'".to_owned(),
            "created_at" | "updated_at" => "now()".to_owned(),
            "uuid" => "md5(g::text)".to_owned(),
            other => format!("t.{other}"),
        })
        .collect();
    let t_insert = Instant::now();
    pg.psql(
        "crowdsec",
        &format!(
            "INSERT INTO decisions ({}) SELECT {} FROM decisions t, generate_series(1, {N}) g WHERE t.value = '192.0.2.1'",
            columns.join(", "),
            select.join(", ")
        ),
    );
    let count: u64 = pg.psql("crowdsec", "SELECT count(*) FROM decisions WHERE until > now()").trim().parse().unwrap();
    assert!(count > N, "{count}");
    println!("MEASURE {N} decisions written into PostgreSQL: {:.1} s", t_insert.elapsed().as_secs_f64());
    // A newer alert, as on any busy node: 1.4.6's flush job reads the newest alert with all its
    // decisions every minute (`max_items`), which with the million's alert newest is a complete
    // answer's worth of work each minute on its own.
    ban("192.0.2.2", "newer").await;

    // The central node takes them in first, as it would have over time: the edge then joins a
    // central node at rest. (Rows a long insert commits are in no 1.4.6 delta, as with any bulk
    // import: the console's next periodic complete answer brings them, within a minute or so.)
    let stats = |addr: std::net::SocketAddr| async move {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        match http.get(format!("http://{addr}/bouncer/stats")).send().await {
            Ok(r) => r.json::<Value>().await.ok().and_then(|v| v["decisions"].as_u64()).unwrap_or(0),
            Err(_) => 0,
        }
    };
    let t_central = Instant::now();
    wait_for_decisions(&app, &admin, "?per_page=1", Duration::from_secs(180), |v| v["total"].as_u64().unwrap_or(0) > N + 1).await;
    println!("MEASURE the central node's console holds them after {:.1} s", t_central.elapsed().as_secs_f64());

    let (status, token) = app.send_json(&admin, reqwest::Method::POST, "/api/v1/nodes/join-tokens", &serde_json::json!({})).await;
    assert_eq!(status, 201, "{token}");
    let t0 = Instant::now();
    let edge = super::fleet::edge(&["--join", &fleet_url, "--token", token["token"].as_str().unwrap(), "--name", "bench"], None);
    let mut last = 0;
    // When the edge's bouncer process was up, and when it had the central node's answer whole.
    let (mut listening, mut answered) = (None, None);
    loop {
        let held = stats(edge.bouncer).await;
        if held > N + 1 {
            break;
        }
        if held != last {
            last = held;
            println!("  {:.1} s: {held}", t0.elapsed().as_secs_f64());
        }
        let bouncer_log = std::fs::read_to_string(edge.data().join("logs/bouncer.log")).unwrap_or_default();
        if listening.is_none() && bouncer_log.contains("bouncer listening") {
            listening = Some(t0.elapsed());
        }
        if answered.is_none() && bouncer_log.contains("starting from the central node's decisions") {
            answered = Some(t0.elapsed());
        }
        assert!(t0.elapsed() < Duration::from_secs(180), "the edge holds {held} decisions; node log:\n{}", edge.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let synced = t0.elapsed();
    let pid: i32 = std::fs::read_to_string(edge.data().join("bouncer/bouncer.pid")).unwrap().trim().parse().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib = |field: &str| {
        status.lines().find_map(|l| l.strip_prefix(field).map(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().unwrap())).unwrap()
    };
    println!("MEASURE fresh edge node: join → {} decisions in its bouncer's cache: {:.1} s", N + 2, synced.as_secs_f64());
    println!("MEASURE the edge bouncer's RSS with them: {:.0} MB (peak while syncing: {:.0} MB)", kib("VmRSS:") as f64 / 1024.0, kib("VmHWM:") as f64 / 1024.0);
    let bouncer_log = std::fs::read_to_string(edge.data().join("logs/bouncer.log")).unwrap_or_default();
    println!("MEASURE the edge started from the central node's decisions: {}", bouncer_log.contains("starting from the central node's decisions"));
    let secs = |t: Option<Duration>| t.map_or("-".to_owned(), |t| format!("{:.1} s", t.as_secs_f64()));
    println!("MEASURE after the join: its bouncer up {}, the central node's answer downloaded {}, in its cache {:.1} s", secs(listening), secs(answered), synced.as_secs_f64());
    // Of which: the central node's decisions, and for comparison the engine's complete answer
    // through the listener (downloaded, not parsed), with the node's own key.
    let key: Value = serde_json::from_str(&std::fs::read_to_string(edge.data().join("node/membership.json")).unwrap()).unwrap();
    let ca = std::fs::read_to_string(edge.data().join("node/ca.pem")).unwrap();
    let pinned = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let key = key["bouncer_key"].as_str().unwrap();
    let download = |client: reqwest::Client, base: String| async move {
        let t = Instant::now();
        let url = format!("{base}/v1/decisions/stream?startup=true&scopes={}", charon::crowdsec::lapi::STREAM_SCOPES);
        let body = client.get(url).header("X-Api-Key", key).send().await.unwrap().bytes().await.unwrap();
        (t.elapsed(), body.len() / 1_000_000)
    };
    let t = Instant::now();
    let seed = pinned.get(format!("{fleet_url}/fleet/v1/decisions")).header("X-Api-Key", key).send().await.unwrap().bytes().await.unwrap();
    println!("MEASURE the central node's decisions through the fleet listener: {:.1} s ({} MB of JSON)", t.elapsed().as_secs_f64(), seed.len() / 1_000_000);
    drop(seed);
    let (took, mb) = download(pinned, fleet_url.clone()).await;
    println!("MEASURE for comparison, the engine's complete answer through the fleet listener: {:.1} s ({mb} MB of JSON)", took.as_secs_f64());
    let direct = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().unwrap();
    let (took, mb) = download(direct, format!("http://{}", app.state.config.crowdsec_lapi_listen)).await;
    println!("MEASURE the same answer from the engine directly (loopback, no TLS): {:.1} s ({mb} MB)", took.as_secs_f64());
    admin.post(app.url("/api/v1/cerberus/crowdsec/stop")).send().await.unwrap();
    drop(edge);
}
