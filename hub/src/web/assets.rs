//! The dashboard's static files, compiled into the binary (`static/`), served with their
//! content type and `no-cache` so a hub upgrade is picked up on the next load.
//!
//! Must never serve a file that is not in the list (no path from the request reaches the disk).

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// (name under `/assets/`, content type, bytes).
pub const ASSETS: [(&str, &str, &str); 4] = [
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("static/app.js"),
    ),
    (
        "pages.js",
        "text/javascript; charset=utf-8",
        include_str!("static/pages.js"),
    ),
    (
        "ui.js",
        "text/javascript; charset=utf-8",
        include_str!("static/ui.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("static/style.css"),
    ),
];

pub const INDEX: &str = include_str!("static/index.html");

fn file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

pub(super) async fn index() -> Response {
    file("text/html; charset=utf-8", INDEX)
}

pub(super) async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, ct, body)) => file(ct, body),
        None => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": format!("no asset {name:?}"), "code": "not_found", "asset": name})),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_weighs_under_300_kb_and_references_only_served_assets() {
        let total: usize = INDEX.len() + ASSETS.iter().map(|(_, _, b)| b.len()).sum::<usize>();
        assert!(total < 300 * 1024, "{total} bytes");
        for (name, _, body) in ASSETS.iter() {
            // No CDN, no other origin.
            assert!(!body.contains("http://") && !body.contains("https://"), "{name}");
        }
        for part in INDEX.split("/assets/").skip(1) {
            let name = part.split('"').next().unwrap_or("");
            assert!(ASSETS.iter().any(|(n, _, _)| *n == name), "index names {name}");
        }
    }
}
