//! `/overview`, the landing page after sign-in: the protection state at a glance, totals for the
//! chosen period (links, so it works without JavaScript) with the engine's uptime and the bouncer's
//! longest sync lag, requests over time stacked by outcome and origin, bans over time stacked by
//! scenario, and the top lists. Each chart has a table of the same numbers; the page
//! refreshes itself every 30 s once hydrated.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::components::error_message::ErrorMessage;
use crate::components::layout::Layout;
use crate::components::query_link::encode;
use crate::i18n::*;
use crate::overview::chart::{Stack, StackedBars, TopList};
use crate::overview::model::{NamedCount, Overview, Range};
use crate::overview::rpc::overview_numbers;

const REFRESH: std::time::Duration = std::time::Duration::from_secs(30);
/// CSS classes of the origins' parts of a bar, in `Overview::origins` order.
const ORIGIN_CLASSES: [&str; 6] = ["bar-o0", "bar-o1", "bar-o2", "bar-o3", "bar-o4", "bar-o5"];

#[component]
pub fn OverviewPage() -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let range = move || query.try_with(|q| q.get("range").and_then(|r| Range::parse(&r))).flatten().unwrap_or_default();
    let tick = RwSignal::new(0u32);
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(move || tick.update(|t| *t += 1), REFRESH) {
            on_cleanup(move || handle.clear());
        }
    });
    let numbers = Resource::new(move || (range(), tick.try_get().unwrap_or_default()), |(r, _)| overview_numbers(r));
    view! {
        <Layout>
            <h1>{t!(i18n, nav_overview)}</h1>
            <p class="lead">{t!(i18n, overview_intro)}</p>
            <nav aria-label=move || t_string!(i18n, overview_range) class="range-links" data-testid="overview-range">
                {Range::ALL.into_iter().map(|r| view! {
                    <a href=format!("/overview?range={}", r.as_str()) aria-current=move || (range() == r).then_some("page")>{r.as_str()}</a>
                }).collect_view()}
            </nav>
            <Transition fallback=move || view! { <p class="skeleton" aria-hidden="true"></p> }>
                {move || Suspend::new(async move {
                    match numbers.await {
                        Err(e) => view! { <ErrorMessage error=e /> }.into_any(),
                        Ok(o) => view! { <OverviewView o=o /> }.into_any(),
                    }
                })}
            </Transition>
        </Layout>
    }
}

fn rows(v: &[NamedCount], link: impl Fn(&str) -> Option<String>) -> Vec<(String, u64, Option<String>)> {
    v.iter().map(|c| (c.name.clone(), c.count, link(&c.name))).collect()
}

#[component]
fn OverviewView(o: Overview) -> impl IntoView {
    let i18n = use_i18n();
    let s = o.state.clone();
    let yes_no = move |on: bool| if on { t_string!(i18n, dp_running) } else { t_string!(i18n, dp_stopped) };
    let bouncer = match (&s.bouncer_stale_since, s.bouncer_running) {
        (Some(since), true) => format!("{} {since}", t_string!(i18n, overview_stale)),
        (_, on) => yes_no(on).to_owned(),
    };
    let requests: Vec<Stack> = o
        .series
        .iter()
        .map(|b| {
            let mut parts = vec![(b.allowed, "bar-allowed")];
            parts.extend(b.blocked.iter().enumerate().map(|(i, n)| (*n, ORIGIN_CLASSES[i.min(5)])));
            Stack { label: b.at.clone(), parts }
        })
        .collect();
    // Bans stacked by scenario (bans of a scenario outside the list are none: every ban has one).
    let bans: Vec<Stack> = o
        .series
        .iter()
        .map(|b| Stack { label: b.at.clone(), parts: b.bans_by_scenario.iter().enumerate().map(|(i, n)| (*n, ORIGIN_CLASSES[i.min(5)])).collect() })
        .collect();
    let permille = |p: Option<u32>| p.map(|p| format!("{}.{} %", p / 10, p % 10)).unwrap_or_else(|| "—".to_owned());
    let lag = |l: Option<u64>| l.map(|l| l.to_string()).unwrap_or_else(|| "—".to_owned());
    let none = t_string!(i18n, overview_none).to_owned();
    view! {
        <section class="card" aria-labelledby="state-title" data-testid="overview-state">
            <h2 id="state-title" class="visually-hidden">{t!(i18n, crowdsec_title)}</h2>
            <dl class="state-grid">
                <div><dt>{t!(i18n, crowdsec_title)}</dt><dd data-testid="state-engine">{crate::security::crowdsec_card::state_label(i18n, s.engine)}</dd></div>
                <div><dt>{t!(i18n, overview_bouncer)}</dt><dd data-testid="state-bouncer">{bouncer}</dd></div>
                <div><dt>"Caddy"</dt><dd data-testid="state-caddy">{yes_no(s.caddy_running)}</dd></div>
                <div><dt>{t!(i18n, console_title)}</dt><dd>{s.enrollment.map(|e| crate::console::page::state_label(i18n, e)).unwrap_or("—")}</dd></div>
            </dl>
        </section>
        <section class="card" aria-labelledby="totals-title">
            <h2 id="totals-title" class="visually-hidden">{t!(i18n, dp_checked)}</h2>
            <dl class="totals" data-testid="overview-totals">
                <div><dt>{t!(i18n, dp_checked)}</dt><dd data-testid="total-checked">{o.checked}</dd></div>
                <div><dt>{t!(i18n, dp_allowed)}</dt><dd data-testid="total-allowed">{o.allowed}</dd></div>
                <div><dt>{t!(i18n, dp_blocked)}</dt><dd data-testid="total-blocked">{o.blocked}</dd></div>
                <div><dt>{t!(i18n, overview_bans)}</dt><dd data-testid="total-bans">{o.bans}</dd></div>
                <div><dt>{t!(i18n, overview_engine_up)}</dt><dd data-testid="total-engine-up">{permille(o.engine_up_permille)}</dd></div>
                <div><dt>{t!(i18n, overview_sync_lag)}</dt><dd data-testid="total-sync-lag">{lag(o.sync_lag_max_seconds)}</dd></div>
            </dl>
        </section>
        <section class="card" aria-labelledby="requests-title">
            <h2 id="requests-title">{t!(i18n, overview_requests_chart)}</h2>
            <StackedBars title=t_string!(i18n, overview_requests_chart).to_owned() bars=requests />
            <ul class="legend">
                <li><span class="swatch bar-allowed"></span>{t!(i18n, dp_allowed)}</li>
                {o.origins.iter().enumerate().map(|(i, name)| view! { <li><span class=format!("swatch {}", ORIGIN_CLASSES[i.min(5)])></span>{name.clone()}</li> }).collect_view()}
            </ul>
            <details>
                <summary>{t!(i18n, overview_table)}</summary>
                <div class="table-scroll"><table class="table" data-testid="overview-table">
                    <thead><tr>
                        <th scope="col">{t!(i18n, col_created)}</th>
                        <th scope="col">{t!(i18n, dp_allowed)}</th>
                        {o.origins.iter().map(|n| view! { <th scope="col">{format!("{}: {n}", t_string!(i18n, dp_blocked))}</th> }).collect_view()}
                        <th scope="col">{t!(i18n, overview_bans)}</th>
                        <th scope="col">{t!(i18n, overview_engine_up)}</th>
                        <th scope="col">{t!(i18n, overview_sync_lag)}</th>
                    </tr></thead>
                    <tbody>
                        {o.series.iter().filter(|b| b.allowed + b.bans + b.blocked.iter().sum::<u64>() > 0 || b.engine_up_permille.is_some_and(|p| p < 1000)).map(|b| view! {
                            <tr>
                                <th scope="row"><time datetime=b.at.clone()>{b.at.clone()}</time></th>
                                <td>{b.allowed}</td>
                                {b.blocked.iter().map(|n| view! { <td>{*n}</td> }).collect_view()}
                                <td>{b.bans}</td>
                                <td>{permille(b.engine_up_permille)}</td>
                                <td>{lag(b.sync_lag_max_seconds)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table></div>
            </details>
        </section>
        <section class="card" aria-labelledby="bans-title">
            <h2 id="bans-title">{t!(i18n, overview_bans_chart)}</h2>
            <StackedBars title=t_string!(i18n, overview_bans_chart).to_owned() bars=bans />
            <ul class="legend" data-testid="bans-legend">
                {o.scenarios.iter().enumerate().map(|(i, name)| view! { <li><span class=format!("swatch {}", ORIGIN_CLASSES[i.min(5)])></span>{name.clone()}</li> }).collect_view()}
            </ul>
        </section>
        <div class="top-grid">
            <TopList title=t_string!(i18n, overview_by_origin).to_owned() rows=rows(&o.blocked_by_origin, |_| None) empty=none.clone() testid="top-origins" />
            <TopList title=t_string!(i18n, overview_by_site).to_owned() rows=rows(&o.blocked_by_site, |_| None) empty=none.clone() testid="top-sites" />
            <TopList title=t_string!(i18n, overview_top_addresses).to_owned()
                rows=rows(&o.top_blocked_addresses, |ip| Some(format!("/security/decisions?q={}", encode(ip)))) empty=none.clone() testid="top-addresses" />
            <TopList title=t_string!(i18n, overview_by_scenario).to_owned()
                rows=rows(&o.bans_by_scenario, |s| Some(format!("/security/alerts?scenario={}", encode(s)))) empty=none.clone() testid="top-scenarios" />
            <TopList title=t_string!(i18n, overview_by_country).to_owned() rows=rows(&o.bans_by_country, |_| None) empty=none testid="top-countries" />
        </div>
    }
}
