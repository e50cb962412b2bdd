//! Tail latency of the bouncer's `GET /bouncer/check` on one keep-alive connection, with the
//! production router and runtime shape (2 workers) and a decision cache of 1 000 000 entries, while
//! complete resyncs (parse a full stream answer, rebuild, swap) and sweeps run as the sync loop
//! runs them — every 5 s here instead of every 60 s, so that a 20 s measurement holds several.
//! Prints p50/p99/p99.9/max for a quiet cache and for one being resynced.
//!
//! Run: `cargo bench -p server --bench check_tail` (`CHECK_TAIL_DECISIONS`, `CHECK_TAIL_SECS`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use charon::bouncer::cache::DecisionCache;
use charon::bouncer::forward_auth::{self, CheckState, Counters, FailMode};
use charon::bouncer::sync::SyncHealth;
use charon::crowdsec::lapi::StreamAnswer;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A complete stream answer: 90 % addresses, 10 % /24 ranges, outside 127/8 and 203.0.113/24.
fn stream_body(n: u64) -> Vec<u8> {
    let mut s = String::with_capacity(n as usize * 120);
    s.push_str("{\"new\":[");
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        let (scope, value) = if i % 10 == 0 {
            ("Range", format!("{}.{}.{}.0/24", 11 + (i >> 16) % 100, (i >> 8) & 255, i & 255))
        } else {
            ("Ip", format!("{}.{}.{}.{}", 11 + (i >> 24) % 100, (i >> 16) & 255, (i >> 8) & 255, i & 255))
        };
        s.push_str(&format!(
            "{{\"id\":{i},\"origin\":\"lists\",\"scenario\":\"bench/{}\",\"scope\":\"{scope}\",\"type\":\"ban\",\"value\":\"{value}\",\"duration\":\"23h59m{}s\"}}",
            i % 16,
            i % 60
        ));
    }
    s.push_str("],\"deleted\":null}");
    s.into_bytes()
}

fn apply_full(cache: &DecisionCache, body: &[u8]) -> usize {
    let answer = StreamAnswer::parse(body).expect("bench body parses");
    cache.apply_stream(&answer.new, &answer.deleted, true, charon::support::time::now())
}

/// One request on the open connection; the answer has no body (200) or a short one (403).
fn check(conn: &mut BufReader<TcpStream>, ip: &str) {
    let req = format!("GET /bouncer/check HTTP/1.1\r\nHost: bouncer\r\nX-Forwarded-For: {ip}\r\n\r\n");
    conn.get_mut().write_all(req.as_bytes()).unwrap();
    let mut len = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        conn.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; len];
    conn.read_exact(&mut body).unwrap();
}

fn measure(addr: SocketAddr, secs: u64) -> Vec<Duration> {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut conn = BufReader::new(stream);
    let ips = ["203.0.113.77", "11.0.1.5", "11.3.7.9", "198.51.100.4"];
    for i in 0..2000 {
        check(&mut conn, ips[i % ips.len()]);
    }
    let mut out = Vec::with_capacity(200_000);
    let end = Instant::now() + Duration::from_secs(secs);
    let mut i = 0;
    while Instant::now() < end {
        let t = Instant::now();
        check(&mut conn, ips[i % ips.len()]);
        out.push(t.elapsed());
        i += 1;
    }
    out
}

fn report(label: &str, mut v: Vec<Duration>) {
    v.sort_unstable();
    let q = |p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "{label}: {} requests, p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms",
        v.len(),
        q(0.5),
        q(0.99),
        q(0.999),
        v.last().unwrap().as_secs_f64() * 1000.0
    );
}

fn main() {
    let n = env("CHECK_TAIL_DECISIONS", 1_000_000);
    let secs = env("CHECK_TAIL_SECS", 20);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let body = Arc::new(stream_body(n));
    let cache = Arc::new(DecisionCache::new());
    let t0 = Instant::now();
    apply_full(&cache, &body);
    println!("{} decisions loaded in {:.2} s ({} MB stream answer)", cache.len(), t0.elapsed().as_secs_f64(), body.len() / 1_000_000);

    let health = Arc::new(Mutex::new(SyncHealth { synced: true, ..Default::default() }));
    let state = CheckState {
        cache: cache.clone(),
        health,
        trusted: Arc::new(vec!["127.0.0.0/8".parse().unwrap()]),
        fail_mode: FailMode::Open,
        counters: Arc::new(Counters::default()),
        sync_now: Arc::new(tokio::sync::Notify::new()),
        sync_token: None,
        feed: Arc::new(charon::bouncer::feed::ChangeFeed::new()),
        self_test: Arc::default(),
    };
    let addr = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = forward_auth::router(state).into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    });

    report("quiet cache", measure(addr, secs));

    // Resyncs and sweeps as the sync loop runs them: on the blocking pool, awaited from a task.
    let resyncing = Arc::new(AtomicBool::new(true));
    let resyncs = Arc::new(AtomicUsize::new(0));
    {
        let (cache, body, resyncing, resyncs) = (cache.clone(), body.clone(), resyncing.clone(), resyncs.clone());
        rt.spawn(async move {
            while resyncing.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let (c, b) = (cache.clone(), body.clone());
                let _ = tokio::task::spawn_blocking(move || {
                    c.sweep(charon::support::time::now());
                    apply_full(&c, &b)
                })
                .await;
                resyncs.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    let v = measure(addr, secs);
    resyncing.store(false, Ordering::Relaxed);
    report(&format!("while resyncing ({} complete resyncs of {n})", resyncs.load(Ordering::Relaxed)), v);
}
