//! The staff workbench (工作台): sign-in, the inbox, desk intake of letters, visits and calls,
//! the case page with the actions the user may take now, official documents, the leader's
//! view and administration.

use axum::Router;

use crate::WebState;

pub fn routes() -> Router<WebState> {
    Router::new()
}
