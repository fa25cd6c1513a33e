//! `GET /docs`: the API reference, Redoc rendering `/openapi.json`. Redoc is vendored
//! (`assets/docs`, unmodified, with its licence and how to update it) and embedded in the
//! binary, so the page loads nothing from another origin, and its own Content-Security-Policy
//! forbids it to try.

use actix_web::{HttpRequest, HttpResponse};

use super::embedded::Bundle;

/// The page: a container, the bundle and the script that starts it (no inline script or style).
const PAGE: &str = include_str!("../../assets/docs/index.html");
/// Starts Redoc on the page's container.
const INIT: &str = include_str!("../../assets/docs/init.js");
/// Redoc's standalone bundle, version [`REDOC_VERSION`].
const REDOC: &str = include_str!("../../assets/docs/redoc.standalone.js");
/// The vendored Redoc release.
pub const REDOC_VERSION: &str = "2.5.4";

/// What the page may load: its two scripts and the OpenAPI document, from this origin; the
/// styles Redoc injects as `<style>` elements, the icons it draws as `data:` images, and the
/// search index it runs in a `blob:` worker. Nothing from anywhere else: the one remote image
/// the bundle names (a logo in its footer) is refused and never requested.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'unsafe-inline'; img-src data:; connect-src 'self'; worker-src blob:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page's files, under one ETag naming the Redoc release.
static BUNDLE: std::sync::LazyLock<Bundle> = std::sync::LazyLock::new(|| {
    Bundle::new(&format!("redoc-{REDOC_VERSION}"), CONTENT_SECURITY_POLICY, &[PAGE, INIT, REDOC])
});

/// The API reference, rendered in the browser from `/openapi.json`.
#[utoipa::path(
    get, path = "/docs", tag = "service",
    responses((status = 200, description = "An HTML page (Redoc) rendering /openapi.json; it loads nothing from another origin", content_type = "text/html"))
)]
pub async fn page(request: HttpRequest) -> HttpResponse {
    BUNDLE.serve(&request, "text/html; charset=utf-8", PAGE)
}

/// The script that starts Redoc.
pub async fn init(request: HttpRequest) -> HttpResponse {
    BUNDLE.serve(&request, "text/javascript; charset=utf-8", INIT)
}

/// Redoc's bundle.
pub async fn redoc(request: HttpRequest) -> HttpResponse {
    BUNDLE.serve(&request, "text/javascript; charset=utf-8", REDOC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_etag_names_the_vendored_release() {
        let etag = BUNDLE.etag();
        assert!(etag.starts_with(&format!("\"redoc-{REDOC_VERSION}-")), "{etag}");
        assert!(REDOC.contains(&format!("\"{REDOC_VERSION}\"")), "the bundle is another release");
    }
}
