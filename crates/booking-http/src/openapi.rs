//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::{
    Modify, OpenApi,
    openapi::{
        Content, Header, HeaderBuilder, Object, Ref, RefOr, ResponseBuilder, Type,
        path::Operation,
        security::{Http, HttpAuthScheme, SecurityScheme},
    },
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
        routes::docs::page,
        crate::metrics::metrics,
        routes::appointments::schedule,
        routes::appointments::cancel,
        routes::appointments::reschedule,
        routes::appointments::get,
        routes::calendar::appointment,
        routes::calendar::feed,
        routes::availability::list,
        routes::stream::stream,
        routes::holds::create,
        routes::holds::release,
        routes::catalog::resources,
        routes::catalog::services,
        routes::pages::book,
        routes::pages::manage,
        routes::pages::admin,
        routes::admin::appointments,
        routes::admin::book,
        routes::admin::cancel,
        routes::admin::move_appointment,
        routes::admin::complete,
        routes::admin::no_show,
        routes::history::history,
        routes::admin::close,
        routes::admin::closures,
        routes::admin::reopen,
        routes::calendar_admin::resources::list,
        routes::calendar_admin::resources::get,
        routes::calendar_admin::resources::add,
        routes::calendar_admin::resources::change,
        routes::calendar_admin::resources::remove,
        routes::calendar_admin::overrides::list,
        routes::calendar_admin::overrides::set,
        routes::calendar_admin::overrides::remove,
        routes::calendar_admin::services::list,
        routes::calendar_admin::services::get,
        routes::calendar_admin::services::add,
        routes::calendar_admin::services::change,
        routes::calendar_admin::services::remove,
        routes::webhooks::register,
        routes::webhooks::list_webhooks,
        routes::webhooks::unregister,
        routes::webhooks::list_deliveries,
        routes::notifications::list_notifications,
    ),
    modifiers(&BearerAuth, &SharedAnswers),
    components(schemas(error::Problem)),
    tags(
        (name = "appointments", description = "Book, cancel, move and read appointments"),
        (name = "availability", description = "Which slots are free, now and as they change"),
        (name = "holds", description = "Keep a slot for a few minutes while booking"),
        (name = "catalog", description = "Resources and services"),
        (name = "calendar", description = "Calendar feeds to subscribe to (feed token)"),
        (name = "admin", description = "The operator's API (bearer token)"),
        (name = "pages", description = "Pages for people: booking, managing a booking, the operator's dashboard"),
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

/// Documents what middleware and the idempotency layer add to many operations at once:
/// `Retry-After` on 503s, the rate limit's 429 (with `Retry-After`) on the writes it
/// counts (POST, PUT, PATCH, DELETE), and `Idempotent-Replayed` on the answers of writes that
/// take an `Idempotency-Key`.
#[derive(Debug)]
struct SharedAnswers;

impl Modify for SharedAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            let admin = path.starts_with("/admin/");
            if let Some(operation) = &mut item.get {
                add_retry_after(operation);
                if admin {
                    add_rate_limit(operation, ADMIN_LIMIT);
                }
            }
            let writes = [&mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
            for operation in writes.into_iter().flatten() {
                add_retry_after(operation);
                add_rate_limit(operation, if admin { ADMIN_LIMIT } else { WRITE_LIMIT });
                if takes_idempotency_key(operation) {
                    add_replayed(operation);
                }
            }
        }
    }
}

fn retry_after() -> Header {
    HeaderBuilder::new()
        .schema(Object::with_type(Type::Integer))
        .description(Some("Seconds to wait before trying again; sent when trying again can help (the database busy or unreachable, the rate limit), not when the admin API is off"))
        .build()
}

fn add_retry_after(operation: &mut Operation) {
    if let Some(RefOr::T(unavailable)) = operation.responses.responses.get_mut("503") {
        unavailable.headers.insert("Retry-After".into(), retry_after());
    }
}

/// Why a write outside the admin API may be refused with 429.
const WRITE_LIMIT: &str = "Too many writes from this client address (BOOKING_RATE_LIMIT_PER_MINUTE); nothing was done; retry after Retry-After seconds";
/// Why an admin request may be refused with 429.
const ADMIN_LIMIT: &str = "Too many wrong admin tokens from this client address in the last minute; retry after Retry-After seconds";

fn add_rate_limit(operation: &mut Operation, why: &str) {
    let limited = ResponseBuilder::new()
        .description(why)
        .header("Retry-After", retry_after())
        .content("application/problem+json", Content::new(Some(Ref::from_schema_name("Problem"))))
        .build();
    operation.responses.responses.insert("429".into(), RefOr::T(limited));
}

fn takes_idempotency_key(operation: &Operation) -> bool {
    operation.parameters.iter().flatten().any(|parameter| parameter.name == "Idempotency-Key")
}

fn add_replayed(operation: &mut Operation) {
    let replayed = HeaderBuilder::new()
        .schema(Object::with_type(Type::String))
        .description(Some("`true` when this is the first answer to an earlier request with the same Idempotency-Key, given again; the work was not done twice"))
        .build();
    for (status, response) in &mut operation.responses.responses {
        if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
            response.headers.insert("Idempotent-Replayed".into(), replayed.clone());
        }
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
