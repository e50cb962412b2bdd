//! The Overview's server function (a read: everyone signed in).

use leptos::prelude::*;

use crate::error::AppError;
use crate::overview::model::{Overview, Range};
#[cfg(feature = "ssr")]
use crate::auth::guard;

#[server(prefix = "/rpc", endpoint = "overview/numbers")]
pub async fn overview_numbers(range: Range) -> Result<Overview, AppError> {
    guard::principal()?;
    guard::status_for(guard::services()?.overview.overview(range).await)
}
