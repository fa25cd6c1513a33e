//! The HTTP endpoints. Each handler reads its request into a domain value, makes one call to the
//! booking service ([`Bookings::run`]), and renders the result.

pub mod admin;
pub mod appointments;
pub mod availability;
mod body;
pub mod calendar;
pub mod calendar_admin;
pub mod catalog;
pub mod docs;
mod embedded;
mod fields;
pub mod history;
pub mod holds;
pub mod meta;
pub mod notifications;
pub mod pages;
pub mod stream;
pub(crate) mod times;
pub mod views;
pub mod webhooks;

use actix_web::{
    HttpResponse, Resource,
    body::MessageBody,
    dev::{ServiceFactory, ServiceRequest, ServiceResponse},
    http::header,
    middleware::from_fn,
    web,
};
use std::sync::Arc;

use booking_core::service::BookingService;

use crate::error::ApiError;

/// Routes every endpoint.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(resource("/", "GET").route(web::get().to(meta::index)))
        .service(resource("/healthz", "GET").route(web::get().to(meta::healthz)))
        .service(resource("/readyz", "GET").route(web::get().to(meta::readyz)))
        .service(resource("/openapi.json", "GET").route(web::get().to(meta::openapi)))
        .service(resource("/docs", "GET").route(web::get().to(docs::page)))
        .service(resource("/docs/init.js", "GET").route(web::get().to(docs::init)))
        .service(resource("/docs/redoc.standalone.js", "GET").route(web::get().to(docs::redoc)))
        .service(resource("/metrics", "GET").route(web::get().to(crate::metrics::metrics)))
        .service(resource("/schedule", "POST").route(web::post().to(appointments::schedule)))
        // Paths with a parameter are matched one after another: the most read comes first.
        .service(resource("/appointment/{id}", "GET").route(web::get().to(appointments::get)))
        .service(
            resource("/appointment/{id}/calendar.ics", "GET")
                .route(web::get().to(calendar::appointment)),
        )
        .service(resource("/feeds/{resource}.ics", "GET").route(web::get().to(calendar::feed)))
        .service(resource("/cancel/{id}", "POST").route(web::post().to(appointments::cancel)))
        .service(
            resource("/reschedule/{id}", "POST").route(web::post().to(appointments::reschedule)),
        )
        .service(resource("/availability", "GET").route(web::get().to(availability::list)))
        .service(resource("/availability/stream", "GET").route(web::get().to(stream::stream)))
        .service(resource("/holds", "POST").route(web::post().to(holds::create)))
        .service(resource("/holds/{token}", "DELETE").route(web::delete().to(holds::release)))
        .service(resource("/resources", "GET").route(web::get().to(catalog::resources)))
        .service(resource("/services", "GET").route(web::get().to(catalog::services)))
        // The pages, after the API (routes are tried in order).
        .service(resource("/book", "GET").route(web::get().to(pages::book)))
        .service(resource("/book/manage/{id}", "GET").route(web::get().to(pages::manage)))
        .service(resource("/pages/{file}", "GET").route(web::get().to(pages::file)))
        // The dashboard's page, before the admin API's scope (which would ask it for a token).
        .service(resource("/admin", "GET").route(web::get().to(pages::admin)))
        .service(
            web::scope("/admin")
                .wrap(from_fn(admin::require_token))
                .service(
                    resource("/appointments", "GET, POST")
                        .route(web::get().to(admin::appointments))
                        .route(web::post().to(admin::book)),
                )
                .service(
                    resource("/appointments/{id}/cancel", "POST")
                        .route(web::post().to(admin::cancel)),
                )
                .service(
                    resource("/appointments/{id}/move", "POST")
                        .route(web::post().to(admin::move_appointment)),
                )
                .service(
                    resource("/appointments/{id}/complete", "POST")
                        .route(web::post().to(admin::complete)),
                )
                .service(
                    resource("/appointments/{id}/no-show", "POST")
                        .route(web::post().to(admin::no_show)),
                )
                .service(
                    resource("/appointments/{id}/history", "GET")
                        .route(web::get().to(history::history)),
                )
                .service(
                    resource("/closures", "GET, POST")
                        .route(web::get().to(admin::closures))
                        .route(web::post().to(admin::close)),
                )
                .service(
                    resource("/closures/{id}", "DELETE").route(web::delete().to(admin::reopen)),
                )
                .service(
                    resource("/resources", "GET, POST")
                        .route(web::get().to(calendar_admin::resources::list))
                        .route(web::post().to(calendar_admin::resources::add)),
                )
                .service(
                    resource("/resources/{slug}", "GET, PATCH, DELETE")
                        .route(web::get().to(calendar_admin::resources::get))
                        .route(web::patch().to(calendar_admin::resources::change))
                        .route(web::delete().to(calendar_admin::resources::remove)),
                )
                .service(
                    resource("/resources/{slug}/overrides", "GET")
                        .route(web::get().to(calendar_admin::overrides::list)),
                )
                .service(
                    resource("/resources/{slug}/overrides/{date}", "PUT, DELETE")
                        .route(web::put().to(calendar_admin::overrides::set))
                        .route(web::delete().to(calendar_admin::overrides::remove)),
                )
                .service(
                    resource("/services", "GET, POST")
                        .route(web::get().to(calendar_admin::services::list))
                        .route(web::post().to(calendar_admin::services::add)),
                )
                .service(
                    resource("/services/{slug}", "GET, PATCH, DELETE")
                        .route(web::get().to(calendar_admin::services::get))
                        .route(web::patch().to(calendar_admin::services::change))
                        .route(web::delete().to(calendar_admin::services::remove)),
                )
                .service(
                    resource("/webhooks", "GET, POST")
                        .route(web::get().to(webhooks::list_webhooks))
                        .route(web::post().to(webhooks::register)),
                )
                .service(
                    resource("/webhooks/{id}", "DELETE")
                        .route(web::delete().to(webhooks::unregister)),
                )
                .service(
                    resource("/webhooks/{id}/deliveries", "GET")
                        .route(web::get().to(webhooks::list_deliveries)),
                )
                .service(
                    resource("/notifications", "GET")
                        .route(web::get().to(notifications::list_notifications)),
                )
                .default_service(web::to(admin_not_found)),
        );
}

/// The token of an `Authorization: Bearer <token>` header, if the request has one.
pub fn bearer(headers: &actix_web::http::header::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
}

async fn admin_not_found(request: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::route_not_found(request.method().as_str(), request.path()))
}

/// A resource that answers other methods with 405 and the methods it allows, and a panic in its
/// handlers with 500 (the guard sits here, past routing: a request may be cloned only once it
/// is routed).
fn resource(
    path: &str,
    allow: &'static str,
) -> Resource<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::resource(path)
        .default_service(web::to(move || async move {
            HttpResponse::MethodNotAllowed().insert_header((header::ALLOW, allow)).finish()
        }))
        .wrap(from_fn(crate::panics::catch_panics))
}

/// How handlers may call the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreCalls {
    /// On the HTTP worker itself: the store answers in microseconds (SQLite: a read is a local
    /// index lookup, and a write is queued to the writer thread and awaited).
    Inline,
    /// On the blocking pool: every call may wait on the network (PostgreSQL).
    Blocking,
}

/// The booking service, and how handlers may call it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Bookings {
    service: Arc<BookingService>,
    calls: StoreCalls,
}

impl Bookings {
    /// The service, called as `calls` says.
    pub fn new(service: BookingService, calls: StoreCalls) -> Self {
        Self { service: Arc::new(service), calls }
    }

    /// Runs short `work` (a point read, a small listing, a write handed to the store) against
    /// the service, inside a span that is a child of the request's: on the worker when the
    /// store answers at once, else on the blocking pool, where it runs to its end even if the
    /// client goes away (so a transaction always commits or rolls back).
    pub async fn run<T, E>(
        &self,
        operation: &'static str,
        work: impl FnOnce(&BookingService) -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        self.run_with(self.calls, operation, work).await
    }

    /// Runs `work` that only hands a client write (or a point read) to the store's writers (or
    /// readers), on the worker itself, whatever the store: it returns at once with the pending
    /// answer, which the handler awaits without holding a thread.
    pub async fn queue<T, E>(
        &self,
        operation: &'static str,
        work: impl FnOnce(&BookingService) -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        self.run_with(StoreCalls::Inline, operation, work).await
    }

    /// Runs `work` that may take long (a listing of many rows) on the blocking pool, whatever
    /// the store, so that it holds up no other request of the worker.
    pub async fn run_long<T, E>(
        &self,
        operation: &'static str,
        work: impl FnOnce(&BookingService) -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        self.run_with(StoreCalls::Blocking, operation, work).await
    }

    async fn run_with<T, E>(
        &self,
        calls: StoreCalls,
        operation: &'static str,
        work: impl FnOnce(&BookingService) -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let span = tracing::debug_span!("service", operation);
        match calls {
            StoreCalls::Inline => span.in_scope(|| work(&self.service)).map_err(Into::into),
            StoreCalls::Blocking => {
                let bookings = self.clone();
                web::block(move || span.in_scope(|| work(&bookings.service)))
                    .await
                    .map_err(ApiError::internal)?
                    .map_err(Into::into)
            }
        }
    }
}

impl std::ops::Deref for Bookings {
    type Target = BookingService;

    fn deref(&self) -> &BookingService {
        &self.service
    }
}

#[cfg(test)]
mod tests {
    use actix_web::{App, http::StatusCode, test};

    use super::*;

    #[expect(clippy::panic, reason = "the bug under test")]
    async fn boom() -> &'static str {
        panic!("a bug")
    }

    /// Every endpoint is made by `resource`: a handler that panics answers a 500 problem, the
    /// next request is served, and other methods still get 405.
    #[actix_web::test]
    async fn a_panicking_handler_answers_500_and_the_server_goes_on() {
        let app = test::init_service(
            App::new()
                .service(resource("/boom", "GET").route(web::get().to(boom)))
                .service(resource("/fine", "GET").route(web::get().to(|| async { "fine" }))),
        )
        .await;
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/boom").to_request()).await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let cause = response.response().error().map(ToString::to_string).unwrap_or_default();
        assert!(cause.contains("Internal server error"), "{cause}");
        let body: serde_json::Value = test::read_body_json(response).await;
        assert_eq!(body["type"], "/problems/internal-error");
        let fine =
            test::call_service(&app, test::TestRequest::get().uri("/fine").to_request()).await;
        assert_eq!(fine.status(), StatusCode::OK);
        let post = test::call_service(&app, test::TestRequest::post().uri("/fine").to_request());
        assert_eq!(post.await.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}
