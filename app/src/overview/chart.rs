//! Charts drawn as SVG by the page itself (no script, no charting service): bars over time,
//! stacked, and horizontal bars for the top lists. Each chart is an `img` with a title; the page
//! puts the same numbers in a table beside it.

use leptos::prelude::*;

/// Width of one bar in the SVG's own units (the SVG scales to its box).
const BAR: f64 = 10.0;
const HEIGHT: f64 = 120.0;

/// One bar: its parts from the bottom up (value and CSS class).
pub struct Stack {
    pub label: String,
    pub parts: Vec<(u64, &'static str)>,
}

/// Stacked bars over time; `title` names the chart for screen readers (the table beside it holds
/// the numbers).
#[component]
pub fn StackedBars(title: String, bars: Vec<Stack>) -> impl IntoView {
    let max = bars.iter().map(|b| b.parts.iter().map(|p| p.0).sum::<u64>()).max().unwrap_or(0).max(1) as f64;
    let width = (bars.len().max(1) as f64) * BAR;
    let rects = bars
        .into_iter()
        .enumerate()
        .flat_map(|(i, b)| {
            let mut y = HEIGHT;
            let x = i as f64 * BAR + 1.0;
            b.parts
                .into_iter()
                .filter(|(v, _)| *v > 0)
                .map(move |(v, class)| {
                    let h = (v as f64 / max * HEIGHT).max(0.5);
                    y -= h;
                    view! { <rect x=x y=y width=BAR - 2.0 height=h class=class><title>{format!("{}: {v}", b.label)}</title></rect> }
                })
                .collect::<Vec<_>>()
        })
        .collect_view();
    let label = title.clone();
    view! {
        <svg class="chart" viewBox=format!("0 0 {width} {HEIGHT}") preserveAspectRatio="none" role="img" aria-label=label>
            <title>{title}</title>
            <line x1="0" y1=HEIGHT x2=width y2=HEIGHT class="chart-axis" />
            {rects}
        </svg>
    }
}

/// A top list: name, a bar proportional to the largest, the count.
#[component]
pub fn TopList(title: String, rows: Vec<(String, u64, Option<String>)>, #[prop(into)] empty: String, testid: &'static str) -> impl IntoView {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1) as f64;
    let label = title.clone();
    view! {
        <section class="card top-list" aria-label=label data-testid=testid>
            <h2>{title}</h2>
            {if rows.is_empty() {
                view! { <p class="hint">{empty}</p> }.into_any()
            } else {
                view! {
                    <ol>
                        {rows.into_iter().map(|(name, count, href)| {
                            // An SVG bar: a style attribute would need 'unsafe-inline' in the policy.
                            let pct = format!("{:.1}", count as f64 / max * 100.0);
                            let label = match href {
                                Some(h) => view! { <a href=h>{name.clone()}</a> }.into_any(),
                                None => view! { <span>{name.clone()}</span> }.into_any(),
                            };
                            view! {
                                <li data-name=name.clone()>
                                    <span class="top-name">{label}</span>
                                    <svg class="top-bar" viewBox="0 0 100 1" preserveAspectRatio="none" aria-hidden="true"><rect width=pct height="1" /></svg>
                                    <span class="top-count" data-testid="count">{count}</span>
                                </li>
                            }
                        }).collect_view()}
                    </ol>
                }.into_any()
            }}
        </section>
    }
}
