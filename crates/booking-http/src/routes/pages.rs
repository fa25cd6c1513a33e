//! The pages the binary serves: `/book` (clients book), `/book/manage/{id}` (a client moves or
//! cancels) and `/admin` (the operator's dashboard). Plain HTML, CSS and JavaScript modules
//! (`assets/pages`), compiled into the binary: nothing is built with Node, nothing is loaded
//! from another origin, and the pages call the same public and admin API as anyone else.

use actix_web::{HttpRequest, HttpResponse, web};

use super::embedded::Bundle;
use crate::error::ApiError;

/// What the pages may load: their own scripts, styles and images, and the API of this origin
/// (`fetch` and the availability stream). No inline script or style, no frames, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

const HTML: &str = "text/html; charset=utf-8";
const SCRIPT: &str = "text/javascript; charset=utf-8";
const STYLE: &str = "text/css; charset=utf-8";

/// The pages' shells: each loads one module, which draws the rest.
const BOOK: &str = include_str!("../../assets/pages/book.html");
const MANAGE: &str = include_str!("../../assets/pages/manage.html");
const ADMIN: &str = include_str!("../../assets/pages/admin.html");

/// The files under `/pages/`, by name.
const FILES: &[(&str, &str, &str)] = &[
    ("pages.css", STYLE, include_str!("../../assets/pages/pages.css")),
    ("api.js", SCRIPT, include_str!("../../assets/pages/api.js")),
    ("week.js", SCRIPT, include_str!("../../assets/pages/week.js")),
    ("book.js", SCRIPT, include_str!("../../assets/pages/book.js")),
    ("manage.js", SCRIPT, include_str!("../../assets/pages/manage.js")),
    ("admin.js", SCRIPT, include_str!("../../assets/pages/admin.js")),
];

static BUNDLE: std::sync::LazyLock<Bundle> = std::sync::LazyLock::new(|| {
    let files: Vec<&str> =
        [BOOK, MANAGE, ADMIN].into_iter().chain(FILES.iter().map(|(_, _, body)| *body)).collect();
    Bundle::new("pages", CONTENT_SECURITY_POLICY, &files)
});

/// The booking page.
#[utoipa::path(
    get, path = "/book", tag = "pages",
    params(
        ("date" = Option<String>, Query, description = "YYYY-MM-DD: open the week of that date (default: this week)"),
        ("resource" = Option<String>, Query, description = "Preselect a resource"),
        ("service" = Option<String>, Query, description = "Preselect a service"),
    ),
    responses((status = 200, description = "An HTML page where clients pick a slot, hold it and book; slots update live", content_type = "text/html"))
)]
pub async fn book(request: HttpRequest) -> HttpResponse {
    BUNDLE.serve(&request, HTML, BOOK)
}

/// The page where a client moves or cancels a booking.
#[utoipa::path(
    get, path = "/book/manage/{id}", tag = "pages",
    params(("id" = String, Path, description = "The appointment's id")),
    responses((status = 200, description = "An HTML page showing the appointment, to move or cancel it (the page reads the appointment itself, and says so when there is none)", content_type = "text/html"))
)]
pub async fn manage(request: HttpRequest) -> HttpResponse {
    BUNDLE.serve(&request, HTML, MANAGE)
}

/// The operator's dashboard.
#[utoipa::path(
    get, path = "/admin", tag = "pages",
    responses((status = 200, description = "An HTML page for the business's staff: the page is public, and asks for the admin token, which it keeps for the browser tab only", content_type = "text/html"))
)]
pub async fn admin(request: HttpRequest) -> HttpResponse {
    BUNDLE.serve(&request, HTML, ADMIN)
}

/// A script or style sheet of the pages.
pub async fn file(request: HttpRequest, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (_, content_type, body) = FILES
        .iter()
        .find(|(file, _, _)| *file == name.as_str())
        .ok_or_else(|| ApiError::route_not_found("GET", request.path()))?;
    Ok(BUNDLE.serve(&request, content_type, body))
}
