//! `DecisionCache::lookup` at 100 000 and 1 000 000 decisions (90 % single addresses, 10 % ranges,
//! IPv4 and IPv6): time per lookup (hit and miss), build time, and heap bytes per decision
//! (counted by a wrapping global allocator). Run: `cargo bench -p server --bench lookup`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use charon::bouncer::cache::DecisionCache;
use charon::crowdsec::lapi::StreamDecision;
use criterion::{criterion_group, criterion_main, Criterion};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A deterministic pseudo-random sequence (xorshift), so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const SCENARIOS: [&str; 8] = [
    "crowdsecurity/http-probing", "crowdsecurity/http-crawl-non_statics", "crowdsecurity/ssh-bf",
    "crowdsecurity/http-bad-user-agent", "crowdsecurity/http-sensitive-files", "crowdsecurity/CVE-2022-41082",
    "firehol_level1", "crowdsecurity/community-blocklist",
];
const ORIGINS: [&str; 4] = ["CAPI", "crowdsec", "lists", "cscli"];

fn decisions(n: usize, seed: u64) -> (Vec<StreamDecision<'static>>, Vec<IpAddr>) {
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(n);
    let mut hits = Vec::new();
    for i in 0..n {
        let r = rng.next();
        let v6 = r % 5 == 0; // 20 % IPv6
        let range = i % 10 == 0; // 10 % ranges
        let (value, scope, probe) = match (v6, range) {
            (false, false) => {
                let a = Ipv4Addr::from((r >> 8) as u32 | 0x0100_0000);
                (a.to_string(), "Ip", IpAddr::V4(a))
            }
            (false, true) => {
                let a = Ipv4Addr::from(((r >> 8) as u32 | 0x0100_0000) & 0xffff_ff00);
                (format!("{a}/24"), "Range", IpAddr::V4(Ipv4Addr::from(u32::from(a) | 7)))
            }
            (true, false) => {
                let a = Ipv6Addr::from(((0x2001_0db8u128) << 96) | (r as u128) << 16 | (i as u128 & 0xffff));
                (a.to_string(), "Ip", IpAddr::V6(a))
            }
            (true, true) => {
                let a = Ipv6Addr::from(((0x2001_0db8u128) << 96) | ((r as u128) << 48));
                (format!("{a}/64"), "Range", IpAddr::V6(Ipv6Addr::from(u128::from(a) | 5)))
            }
        };
        if i % 97 == 0 {
            hits.push(probe);
        }
        out.push(StreamDecision {
            id: i as i64,
            value: value.into(),
            scope: scope.into(),
            kind: "ban".into(),
            origin: ORIGINS[(r % 4) as usize].into(),
            scenario: SCENARIOS[(r % 8) as usize].into(),
            duration: "167h59m59.1s".into(),
        });
    }
    (out, hits)
}

fn bench(c: &mut Criterion) {
    for n in [100_000usize, 1_000_000] {
        let (input, hits) = decisions(n, 0x9e37_79b9_7f4a_7c15 ^ n as u64);
        let before = LIVE.load(Ordering::Relaxed);
        let t0 = Instant::now();
        let cache = DecisionCache::new();
        cache.apply_stream(&input, &[], true, 0);
        let build = t0.elapsed();
        let heap = LIVE.load(Ordering::Relaxed) - before;
        println!(
            "decisions={n} stored={} build={:.1} ms heap={} B ({:.1} B/decision)",
            cache.len(),
            build.as_secs_f64() * 1e3,
            heap,
            heap as f64 / cache.len() as f64
        );
        drop(input);
        let misses: Vec<IpAddr> = (0..1024u32)
            .map(|i| if i % 5 == 0 { IpAddr::V6(Ipv6Addr::from(0xfd00u128 << 112 | i as u128)) } else { IpAddr::V4(Ipv4Addr::new(0, 0, (i >> 8) as u8, i as u8)) })
            .collect();
        let mut g = c.benchmark_group(format!("lookup/{n}"));
        let mut i = 0usize;
        g.bench_function("hit", |b| {
            b.iter(|| {
                i = (i + 1) % hits.len();
                black_box(cache.lookup(black_box(hits[i]), 1))
            })
        });
        let mut j = 0usize;
        g.bench_function("miss", |b| {
            b.iter(|| {
                j = (j + 1) % misses.len();
                black_box(cache.lookup(black_box(misses[j]), 1))
            })
        });
        g.finish();
        assert!(hits.iter().all(|h| cache.lookup(*h, 1).is_some()), "every probe is a hit");
    }
}

/// The per-request cost of site-scoped rules: `lookup_request` (address, site and path) against
/// `lookup` (address only), on 100 000 decisions with 10 000 scoped rules (5 000 bans on 50
/// sites, 5 000 path exceptions), for a visitor none of them matches and for one an exception
/// forgives.
fn bench_scoped(c: &mut Criterion) {
    use charon::bouncer::scoped::{RuleKind, ScopedRule};
    let (input, hits) = decisions(100_000, 0x5eed);
    let cache = DecisionCache::new();
    cache.apply_stream(&input, &[], true, 0);
    let mut rng = Rng(0xabcdef);
    let rules: Vec<ScopedRule> = (0..10_000i64)
        .map(|i| {
            let r = rng.next();
            let value = Ipv4Addr::new(100, (r >> 8) as u8 % 64, (r >> 16) as u8, (r >> 24) as u8).to_string();
            ScopedRule {
                id: i + 1,
                kind: if i % 2 == 0 { RuleKind::Ban } else { RuleKind::Allow },
                value,
                sites: vec![format!("site{}.example", i % 50)],
                path_prefix: (i % 2 == 1).then(|| format!("/app{}/", i % 100)),
                scenario: None,
                ban_type: Some("ban".into()),
                reason: String::new(),
                until: Some(i64::MAX),
            }
        })
        .collect();
    // An exception for the first hit on site7 under /app7/.
    let forgiven = hits[0];
    let mut rules = rules;
    rules.push(ScopedRule {
        id: 20_000,
        kind: RuleKind::Allow,
        value: forgiven.to_string(),
        sites: vec!["site7.example".into()],
        path_prefix: Some("/app7/".into()),
        scenario: None,
        ban_type: None,
        reason: String::new(),
        until: None,
    });
    let visitors: Vec<IpAddr> = (0..1024u32).map(|i| IpAddr::V4(Ipv4Addr::new(203, 0, (i >> 8) as u8, i as u8))).collect();
    let mut g = c.benchmark_group("scoped/100000+10000");
    let mut i = 0usize;
    g.bench_function("lookup (address only, no rules)", |b| {
        b.iter(|| {
            i = (i + 1) % visitors.len();
            black_box(cache.lookup(black_box(visitors[i]), 1))
        })
    });
    g.bench_function("lookup_request (no rules)", |b| {
        b.iter(|| {
            i = (i + 1) % visitors.len();
            black_box(cache.lookup_request(black_box(visitors[i]), Some("site7.example"), Some("/app7/x?y=1"), 1))
        })
    });
    cache.set_scoped(&rules);
    g.bench_function("lookup_request (10 000 rules, no match)", |b| {
        b.iter(|| {
            i = (i + 1) % visitors.len();
            black_box(cache.lookup_request(black_box(visitors[i]), Some("site7.example"), Some("/app7/x?y=1"), 1))
        })
    });
    g.bench_function("lookup_request (10 000 rules, banned and forgiven)", |b| {
        b.iter(|| black_box(cache.lookup_request(black_box(forgiven), Some("site7.example"), Some("/app7/x?y=1"), 1)))
    });
    g.finish();
    assert!(cache.lookup(forgiven, 1).is_some() && cache.lookup_request(forgiven, Some("site7.example"), Some("/app7/x"), 1).is_none());
}

criterion_group!(benches, bench, bench_scoped);
criterion_main!(benches);
