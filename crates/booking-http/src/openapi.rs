//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::OpenApi;

use crate::{error, routes};

/// The API's description.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Booking service",
        description = "Book, cancel and reschedule appointments and see which slots are free. Errors are RFC 9457 problem documents (application/problem+json) with a `message` member kept from the original service.",
    ),
    paths(
        routes::meta::index,
        routes::meta::healthz,
        routes::meta::readyz,
        routes::meta::openapi,
        routes::appointments::schedule,
        routes::appointments::cancel,
        routes::appointments::reschedule,
        routes::appointments::get,
        routes::availability::list,
    ),
    components(schemas(error::Problem)),
    tags(
        (name = "appointments", description = "Book, cancel, move and read appointments"),
        (name = "availability", description = "Which slots are free"),
        (name = "service", description = "Health and self-description"),
    )
)]
pub struct ApiDoc;

/// The document, serialized once at start-up.
#[derive(Debug, Clone)]
pub struct OpenApiJson(pub String);

impl OpenApiJson {
    /// Serializes the document.
    pub fn build() -> Result<Self, serde_json::Error> {
        ApiDoc::openapi().to_json().map(Self)
    }
}
