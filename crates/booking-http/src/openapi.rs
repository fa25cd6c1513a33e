//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::{
    Modify, OpenApi,
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
};

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
        crate::metrics::metrics,
        routes::appointments::schedule,
        routes::appointments::cancel,
        routes::appointments::reschedule,
        routes::appointments::get,
        routes::availability::list,
        routes::stream::stream,
        routes::holds::create,
        routes::holds::release,
        routes::catalog::resources,
        routes::catalog::services,
        routes::admin::appointments,
        routes::admin::close,
        routes::admin::closures,
        routes::admin::reopen,
    ),
    modifiers(&BearerAuth),
    components(schemas(error::Problem)),
    tags(
        (name = "appointments", description = "Book, cancel, move and read appointments"),
        (name = "availability", description = "Which slots are free, now and as they change"),
        (name = "holds", description = "Keep a slot for a few minutes while booking"),
        (name = "catalog", description = "Resources and services"),
        (name = "admin", description = "The operator's API (bearer token)"),
        (name = "service", description = "Health and self-description"),
    )
)]
pub struct ApiDoc;

/// Declares the admin API's bearer token.
#[derive(Debug)]
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The document, serialized once at start-up.
#[derive(Debug, Clone)]
pub struct OpenApiJson(pub String);

impl OpenApiJson {
    /// Serializes the document.
    pub fn build() -> Result<Self, serde_json::Error> {
        ApiDoc::openapi().to_json().map(Self)
    }
}
