//! What recording the traffic history costs. The bouncer records nothing: its check answers with
//! the `X-Crowdsec-Decision` header it always sent, Caddy copies it into the access log, and the
//! console's access-log reader counts each line (`access_log::parse`, the blocking decision's
//! origin from the console's copy of the decisions, `traffic::Tally::count`). This measures that
//! reader's cost per line, allowed and blocked, against a copy of 100 000 decisions. The reader
//! runs in the console, off the visitors' path.
//!
//! Run: `cargo bench -p server --bench traffic`.

use std::hint::black_box;

use charon::bouncer::cache::DecisionCache;
use charon::crowdsec::lapi::StreamDecision;
use charon::evidence::{access_log, traffic};
use criterion::{criterion_group, criterion_main, Criterion};

fn line(remote: &str, status: u16, header: (&str, &str)) -> String {
    serde_json::json!({
        "level": "info", "ts": 1796230689.5645473, "logger": "http.log.access.charon_access", "msg": "handled request",
        "request": {"remote_ip": remote, "remote_port": "34056", "proto": "HTTP/1.1", "method": "GET", "host": "shop.example",
                    "uri": "/index.html", "headers": {"User-Agent": ["Mozilla/5.0 (X11; Linux x86_64)"], "Accept": ["*/*"]}},
        "duration": 0.0004, "size": 1432, "status": status, "resp_headers": {"Server": ["Caddy"], header.0: [header.1]}
    })
    .to_string()
}

fn bench(c: &mut Criterion) {
    let cache = DecisionCache::new();
    let decisions: Vec<StreamDecision> = (0..100_000u32)
        .map(|i| StreamDecision {
            id: i as i64,
            value: std::net::Ipv4Addr::from(0x0a00_0000 | i).to_string().into(),
            scope: "Ip".into(),
            kind: "ban".into(),
            origin: if i % 2 == 0 { "CAPI".into() } else { "crowdsec".into() },
            scenario: "crowdsecurity/http-probing".into(),
            duration: "4h".into(),
        })
        .collect();
    let now = charon::support::time::now();
    cache.apply_stream(&decisions, &[], true, now);
    let trusted = Vec::new();
    let allowed = line("203.0.113.9", 200, ("X-Charon-Checked", "allow"));
    let blocked = line("10.0.0.77", 403, ("X-Crowdsec-Decision", "ban"));
    let mut group = c.benchmark_group("traffic_record_per_line");
    for (name, l) in [("allowed", &allowed), ("blocked", &blocked)] {
        group.bench_function(name, |b| {
            let mut tally = traffic::Tally::default();
            b.iter(|| {
                let seen = access_log::parse(black_box(l), &trusted).expect("a request line");
                let origin = seen.refused.then(|| cache.lookup_request(seen.ip, Some(&seen.host), Some(&seen.path), now).map(|h| h.origin.to_string())).flatten();
                tally.count(&seen, origin);
            });
            assert!(tally.0.values().sum::<u64>() > 0, "the lines were counted");
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
