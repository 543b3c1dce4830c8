//! The petitioner portal (公众端): home, submitting in steps, the receipt (受理凭证), tracking,
//! rating (双满意) and asking for review (复查). Mobile first; complete without JavaScript.

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use super::{Ctx, Prefs, render};
use crate::WebState;

pub fn routes() -> Router<WebState> {
    Router::new().route("/", get(home))
}

#[derive(askama::Template)]
#[template(path = "portal/home.html")]
struct Home {
    ctx: Ctx,
}

async fn home(prefs: Prefs) -> Response {
    render(
        StatusCode::OK,
        &Home {
            ctx: Ctx::new(prefs, "/"),
        },
    )
}
