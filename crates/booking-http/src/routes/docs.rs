//! `GET /docs`: the API reference, Redoc rendering `/openapi.json`. Redoc is vendored
//! (`assets/docs`, unmodified, with its licence and how to update it) and embedded in the
//! binary, so the page loads nothing from another origin, and its own Content-Security-Policy
//! forbids it to try.

use actix_web::{HttpRequest, HttpResponse, http::header};

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

/// Names the page's files as this binary holds them (a hash of their bytes): browsers
/// revalidate, and get a 304 until a build changes any of them.
static ETAG: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    // FNV-1a: a stable hash (unlike std's hashers), and enough to tell builds apart.
    let hash = [PAGE, INIT, REDOC]
        .iter()
        .flat_map(|file| file.bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    format!("\"redoc-{REDOC_VERSION}-{hash:016x}\"")
});

/// The API reference, rendered in the browser from `/openapi.json`.
#[utoipa::path(
    get, path = "/docs", tag = "service",
    responses((status = 200, description = "An HTML page (Redoc) rendering /openapi.json; it loads nothing from another origin", content_type = "text/html"))
)]
pub async fn page(request: HttpRequest) -> HttpResponse {
    asset(&request, "text/html; charset=utf-8", PAGE)
}

/// The script that starts Redoc.
pub async fn init(request: HttpRequest) -> HttpResponse {
    asset(&request, "text/javascript; charset=utf-8", INIT)
}

/// Redoc's bundle.
pub async fn redoc(request: HttpRequest) -> HttpResponse {
    asset(&request, "text/javascript; charset=utf-8", REDOC)
}

/// One of the page's files, or 304 when the browser has this build's copy.
fn asset(request: &HttpRequest, content_type: &'static str, body: &'static str) -> HttpResponse {
    let fresh = request
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| tag.trim() == ETAG.as_str() || tag.trim() == "*");
    let mut response = if fresh { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    response
        .insert_header((header::ETAG, ETAG.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY));
    if fresh { response.finish() } else { response.content_type(content_type).body(body) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_etag_names_the_vendored_release() {
        assert!(ETAG.starts_with(&format!("\"redoc-{REDOC_VERSION}-")), "{}", *ETAG);
        assert!(REDOC.contains(&format!("\"{REDOC_VERSION}\"")), "the bundle is another release");
    }
}
