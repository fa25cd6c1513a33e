//! Limits that keep one client from taking more than its share: request header size, and a
//! per-client rate limit on writes. (Body size and JSON depth are limited by the extractors;
//! slow clients by the server's request and keep-alive timeouts, see `startup.rs`.)

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr},
    num::NonZeroU32,
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use actix_web::{
    Error,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::Method,
    middleware::Next,
    web,
};

use crate::error::ApiError;

/// The most bytes of request headers (names and values) one request may carry.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Refuses requests whose headers exceed [`MAX_HEADER_BYTES`].
pub async fn limit_headers(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let size: usize =
        request.headers().iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if size > MAX_HEADER_BYTES {
        let refusal = ApiError::headers_too_large(size, MAX_HEADER_BYTES);
        return Ok(request.error_response(refusal).map_into_right_body());
    }
    next.call(request).await.map(ServiceResponse::map_into_left_body)
}

/// Where a client's address comes from, and how many writes it may make.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: NonZeroU32,
    trusted_proxies: Vec<IpAddr>,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

/// A token bucket: full at `per_minute` tokens, refilled continuously.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Buckets kept before full ones are dropped.
const MAX_TRACKED_CLIENTS: usize = 10_000;

impl RateLimiter {
    /// Each client may make `per_minute` writes a minute, in bursts of up to as many. Requests
    /// from `trusted_proxies` are counted against the client their `X-Forwarded-For` names.
    pub fn new(per_minute: NonZeroU32, trusted_proxies: Vec<IpAddr>) -> Self {
        let trusted_proxies = trusted_proxies.into_iter().map(canonical).collect();
        Self { per_minute, trusted_proxies, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one write for `client` at `now`, or says how long until one is free. An IPv6
    /// client is counted by its /64, the block one subscriber gets: otherwise it could take a
    /// fresh address, and a fresh bucket, for every write.
    pub fn take(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let client = bucket_of(client);
        let capacity = f64::from(self.per_minute.get());
        let per_second = capacity / 60.0;
        // The map holds only counters: a panic elsewhere cannot leave it meaningfully broken.
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_TRACKED_CLIENTS {
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * per_second < capacity
            });
        }
        let bucket = buckets.entry(client).or_insert(Bucket { tokens: capacity, updated: now });
        let refilled =
            bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * per_second;
        bucket.tokens = refilled.min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }

    /// The client a request comes from: its peer, or for a trusted proxy the nearest address
    /// in `X-Forwarded-For` that is not itself a trusted proxy.
    pub(crate) fn client_of(&self, request: &ServiceRequest) -> Option<IpAddr> {
        let peer = canonical(request.peer_addr()?.ip());
        if !self.trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        let forwarded =
            request.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok());
        let hops: Vec<IpAddr> = forwarded
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse().ok())
            .map(canonical)
            .collect();
        Some(hops.into_iter().rev().find(|hop| !self.trusted_proxies.contains(hop)).unwrap_or(peer))
    }
}

/// Wrong admin tokens one client may send a minute, in bursts of as many. A token has at least
/// 16 characters, so this alone makes guessing hopeless; it also keeps a guesser from costing
/// anything.
pub const ADMIN_FAILURES_PER_MINUTE: u32 = 30;

/// Counts wrong admin tokens per client (see [`ADMIN_FAILURES_PER_MINUTE`]).
#[derive(Debug)]
pub struct AdminFailures(pub RateLimiter);

impl AdminFailures {
    /// Failures counted per client, read through `trusted_proxies` like the write limit.
    pub fn new(trusted_proxies: Vec<IpAddr>) -> Self {
        let per_minute = NonZeroU32::new(ADMIN_FAILURES_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
        Self(RateLimiter::new(per_minute, trusted_proxies))
    }

    /// Counts a failure of `request`'s client; says how long to wait once it has too many.
    pub fn failed(&self, request: &ServiceRequest) -> Result<(), Duration> {
        match self.0.client_of(request) {
            Some(client) => self.0.take(client, Instant::now()),
            None => Ok(()),
        }
    }
}

/// An address as one client: an IPv4 address mapped into IPv6 (`::ffff:192.0.2.1`, what a
/// server listening on `::` sees from IPv4 clients) is that IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// The bucket a client is counted in: its IPv4 address, or its IPv6 /64.
fn bucket_of(client: IpAddr) -> IpAddr {
    match canonical(client) {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

/// Applies the rate limit to writes outside the operator's API (which has its own token).
pub async fn limit_writes(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let is_write = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let limiter =
        request.app_data::<web::Data<Option<RateLimiter>>>().and_then(|l| l.as_ref().as_ref());
    if let Some(limiter) = limiter.filter(|_| is_write && !request.path().starts_with("/admin/"))
        && let Some(client) = limiter.client_of(&request)
        && let Err(wait) = limiter.take(client, Instant::now())
    {
        crate::metrics::rate_limited();
        let refusal = ApiError::too_many_requests(wait);
        return Ok(request.error_response(refusal).map_into_right_body());
    }
    next.call(request).await.map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u32) -> RateLimiter {
        RateLimiter::new(NonZeroU32::new(per_minute).unwrap(), Vec::new())
    }

    #[test]
    fn a_burst_up_to_the_limit_then_a_wait() {
        let limiter = limiter(60);
        let start = Instant::now();
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..60 {
            assert_eq!(limiter.take(client, start), Ok(()));
        }
        let wait = limiter.take(client, start).unwrap_err();
        assert!(
            (Duration::from_millis(999)..=Duration::from_millis(1001)).contains(&wait),
            "{wait:?}"
        );
        assert_eq!(
            limiter.take(client, start + Duration::from_secs(1)),
            Ok(()),
            "one a second comes back"
        );
        assert!(limiter.take(client, start + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn clients_have_their_own_buckets() {
        let limiter = limiter(1);
        let now = Instant::now();
        assert_eq!(limiter.take("192.0.2.1".parse().unwrap(), now), Ok(()));
        assert!(limiter.take("192.0.2.1".parse().unwrap(), now).is_err());
        assert_eq!(limiter.take("192.0.2.2".parse().unwrap(), now), Ok(()));
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_slash_64() {
        let limiter = limiter(1);
        let now = Instant::now();
        assert_eq!(limiter.take("2001:db8:1:2::1".parse().unwrap(), now), Ok(()));
        assert!(
            limiter.take("2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap(), now).is_err(),
            "another address of the same /64 shares the bucket"
        );
        assert_eq!(limiter.take("2001:db8:1:3::1".parse().unwrap(), now), Ok(()));
    }

    #[test]
    fn an_ipv4_mapped_address_is_its_ipv4_client() {
        let limiter = limiter(1);
        let now = Instant::now();
        assert_eq!(limiter.take("::ffff:192.0.2.7".parse().unwrap(), now), Ok(()));
        assert!(limiter.take("192.0.2.7".parse().unwrap(), now).is_err());
        assert_eq!(
            limiter.take("::ffff:192.0.2.8".parse().unwrap(), now),
            Ok(()),
            "mapped clients are not one /64"
        );
    }

    #[test]
    fn a_trusted_proxy_on_a_dual_stack_socket_is_recognised() {
        let limiter =
            RateLimiter::new(NonZeroU32::new(1).unwrap(), vec!["127.0.0.1".parse().unwrap()]);
        let request = actix_web::test::TestRequest::default()
            .peer_addr("[::ffff:127.0.0.1]:40000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "198.51.100.4, ::ffff:127.0.0.1"))
            .to_srv_request();
        assert_eq!(limiter.client_of(&request), Some("198.51.100.4".parse().unwrap()));
    }

    #[test]
    fn tracking_stays_bounded() {
        let limiter = limiter(60);
        let start = Instant::now();
        for i in 0..(MAX_TRACKED_CLIENTS as u32 + 10) {
            let client = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            limiter.take(client, start).unwrap();
        }
        let later = start + Duration::from_secs(2);
        limiter.take("192.0.2.9".parse().unwrap(), later).unwrap();
        assert_eq!(limiter.buckets.lock().unwrap().len(), 1, "full buckets are dropped");
    }
}
