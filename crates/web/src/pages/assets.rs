//! Static files embedded in the binary: our stylesheet and script, and the vendored front-end
//! libraries (pinned npm versions, licences beside them in `assets/vendor/`). Nothing is ever
//! loaded from the internet. URLs carry a content hash (`?v=…`), so browsers may cache them
//! for a year and still pick up a new build at once.

use std::sync::LazyLock;

use axum::extract::{Path, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sm3::{Digest, Sm3};

/// One embedded file.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

/// Every file served under `/static/`.
pub const ASSETS: &[Asset] = &[
    Asset {
        name: "huiyin.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/huiyin.css"),
    },
    Asset {
        name: "huiyin.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/huiyin.js"),
    },
    Asset {
        name: "print.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/print.css"),
    },
    Asset {
        name: "portal.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/portal.css"),
    },
    Asset {
        name: "portal.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/portal.js"),
    },
    Asset {
        name: "staff.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/staff.css"),
    },
    Asset {
        name: "staff.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/staff.js"),
    },
    Asset {
        name: "normalize.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/vendor/modern-normalize-3.0.1.css"),
    },
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/vendor/htmx-2.0.11.min.js"),
    },
    Asset {
        name: "charts.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/charts.js"),
    },
    Asset {
        name: "echarts.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/vendor/echarts-6.0.0.min.js"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../../assets/favicon.svg"),
    },
];

/// Short content hashes, computed once.
static VERSIONS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| hex::encode(&Sm3::digest(a.bytes)[..6]))
        .collect()
});

/// The versioned URL of an asset, e.g. `/static/huiyin.css?v=3f2a…`.
pub fn url(name: &str) -> String {
    match ASSETS.iter().position(|a| a.name == name) {
        Some(i) => format!("/static/{name}?v={}", VERSIONS[i]),
        None => {
            tracing::warn!(name, "unknown asset");
            format!("/static/{name}")
        }
    }
}

#[derive(Deserialize)]
pub struct VersionQuery {
    v: Option<String>,
}

/// `GET /static/{name}`.
pub async fn serve(Path(name): Path<String>, Query(q): Query<VersionQuery>) -> Response {
    let Some(i) = ASSETS.iter().position(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let asset = &ASSETS[i];
    // Only a URL with the current hash is immutable; anything else must revalidate.
    let cache = if q.v.as_deref() == Some(VERSIONS[i].as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        asset.bytes,
    )
        .into_response()
}
