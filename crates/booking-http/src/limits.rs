//! Limits that keep one client from taking more than its share: request header size, a
//! per-client rate limit on writes, and who a client is (the holds cap and stream caps count by
//! it too). (Body size and JSON depth are limited by the extractors; slow clients by the
//! server's request and keep-alive timeouts, see `startup.rs`.)

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr, SocketAddr},
    num::NonZeroU32,
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use actix_web::{
    Error,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::{Method, header::HeaderMap},
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

/// Who a request comes from: its peer, or for a trusted proxy the nearest address in
/// `X-Forwarded-For` that is not itself a trusted proxy.
#[derive(Debug, Clone, Default)]
pub struct Clients {
    trusted_proxies: Vec<IpAddr>,
}

impl Clients {
    /// Requests from `trusted_proxies` come from the client their `X-Forwarded-For` names.
    pub fn new(trusted_proxies: Vec<IpAddr>) -> Self {
        Self { trusted_proxies: trusted_proxies.into_iter().map(canonical).collect() }
    }

    /// The client of a request from `peer` with `headers`.
    pub fn client_of(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = canonical(peer?.ip());
        if !self.trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        let forwarded = headers.get_all("x-forwarded-for").filter_map(|v| v.to_str().ok());
        let hops: Vec<IpAddr> = forwarded
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse().ok())
            .map(canonical)
            .collect();
        Some(hops.into_iter().rev().find(|hop| !self.trusted_proxies.contains(hop)).unwrap_or(peer))
    }

    /// The name `client` is counted under by the caps: its IPv4 address, or its IPv6 /64
    /// (`2001:db8:1:2::/64`; see [`RateLimiter::take`]).
    pub fn name(client: IpAddr) -> String {
        match bucket_of(client) {
            IpAddr::V6(block) => format!("{block}/64"),
            v4 => v4.to_string(),
        }
    }
}

/// How many writes a client may make.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: NonZeroU32,
    clients: Clients,
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
    /// Each client (as `clients` tells them apart) may make `per_minute` writes a minute, in
    /// bursts of up to as many.
    pub fn new(per_minute: NonZeroU32, clients: Clients) -> Self {
        Self { per_minute, clients, buckets: Mutex::new(HashMap::new()) }
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

    /// The client `request` comes from (see [`Clients`]).
    pub(crate) fn client_of(&self, request: &ServiceRequest) -> Option<IpAddr> {
        self.clients.client_of(request.peer_addr(), request.headers())
    }
}

/// Wrong admin tokens one client may send a minute, in bursts of as many. A token has at least
/// 16 characters, so this alone makes guessing hopeless; it also keeps a guesser from costing
/// anything.
pub const ADMIN_FAILURES_PER_MINUTE: u32 = 30;

/// Counts wrong admin (and calendar feed) tokens per client (see [`ADMIN_FAILURES_PER_MINUTE`]).
#[derive(Debug)]
pub struct AdminFailures(pub RateLimiter);

impl AdminFailures {
    /// Failures counted per client, told apart like the write limit's.
    pub fn new(clients: Clients) -> Self {
        let per_minute = NonZeroU32::new(ADMIN_FAILURES_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
        Self(RateLimiter::new(per_minute, clients))
    }

    /// Counts a failure of the client of a request from `peer` with `headers`; says how long
    /// to wait once it has too many.
    pub fn failed(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Result<(), Duration> {
        match self.0.clients.client_of(peer, headers) {
            Some(client) => self.0.take(client, Instant::now()),
            None => Ok(()),
        }
    }
}

/// Availability streams this server keeps open, in all and per client: each holds a connection
/// and a task, and reloads from the database after a closure or a missed change.
#[derive(Debug)]
pub struct StreamCaps {
    most: usize,
    per_client: usize,
    open: Mutex<OpenStreams>,
}

#[derive(Debug, Default)]
struct OpenStreams {
    total: usize,
    by_client: HashMap<IpAddr, usize>,
}

/// Why a stream was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamRefusal {
    /// The server has as many streams open as it may.
    ServerFull {
        /// The cap.
        most: usize,
    },
    /// The client has as many streams open as it may.
    ClientFull {
        /// The cap.
        most: usize,
    },
}

/// Longest a stream waits before reloading, however many streams reload together.
const MOST_RESYNC_DELAY: Duration = Duration::from_secs(5);
/// Reloads spread so that the database sees about one per this interval.
const RESYNC_PACE: Duration = Duration::from_millis(2);

impl StreamCaps {
    /// At most `most` streams in all, and `per_client` for one client.
    pub fn new(most: usize, per_client: usize) -> Self {
        Self { most, per_client, open: Mutex::new(OpenStreams::default()) }
    }

    /// Counts a stream for `client` (`None`: a client without an address, counted in the total
    /// only) until the permit is dropped, unless a cap is reached.
    pub fn open(
        self: &std::sync::Arc<Self>,
        client: Option<IpAddr>,
    ) -> Result<StreamPermit, StreamRefusal> {
        let client = client.map(bucket_of);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.total >= self.most {
            return Err(StreamRefusal::ServerFull { most: self.most });
        }
        if let Some(client) = client {
            let theirs = open.by_client.entry(client).or_default();
            if *theirs >= self.per_client {
                return Err(StreamRefusal::ClientFull { most: self.per_client });
            }
            *theirs += 1;
        }
        open.total += 1;
        Ok(StreamPermit { caps: self.clone(), client })
    }

    /// How long a stream told to reload should wait first: a random share of a spread that
    /// grows with the streams open, so that after a closure they do not all read at once.
    pub fn resync_delay(&self) -> Duration {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner).total;
        let spread = RESYNC_PACE.saturating_mul(u32::try_from(open).unwrap_or(u32::MAX));
        random_below(spread.min(MOST_RESYNC_DELAY))
    }
}

/// A uniformly random duration in `[0, bound)` (zero for a zero bound).
pub fn random_below(bound: Duration) -> Duration {
    let micros = u64::try_from(bound.as_micros()).unwrap_or(u64::MAX);
    Duration::from_micros(if micros == 0 { 0 } else { fastrand::u64(0..micros) })
}

/// One open stream, counted until dropped.
#[derive(Debug)]
pub struct StreamPermit {
    caps: std::sync::Arc<StreamCaps>,
    client: Option<IpAddr>,
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut open = self.caps.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(client) = self.client
            && let Some(theirs) = open.by_client.get_mut(&client)
        {
            *theirs -= 1;
            if *theirs == 0 {
                open.by_client.remove(&client);
            }
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
        RateLimiter::new(NonZeroU32::new(per_minute).unwrap(), Clients::default())
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
            RateLimiter::new(NonZeroU32::MIN, Clients::new(vec!["127.0.0.1".parse().unwrap()]));
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

    #[test]
    fn streams_are_capped_in_all_and_per_client_until_they_close() {
        let caps = std::sync::Arc::new(StreamCaps::new(3, 2));
        let [one, other]: [IpAddr; 2] = ["192.0.2.1", "2001:db8::1"].map(|a| a.parse().unwrap());
        let first = caps.open(Some(one)).unwrap();
        let _second = caps.open(Some(one)).unwrap();
        assert_eq!(caps.open(Some(one)).unwrap_err(), StreamRefusal::ClientFull { most: 2 });
        let _third = caps.open(Some(other)).unwrap();
        let same_block: IpAddr = "2001:db8::2".parse().unwrap();
        assert_eq!(caps.open(Some(same_block)).unwrap_err(), StreamRefusal::ServerFull { most: 3 });
        drop(first);
        assert!(caps.open(None).is_ok(), "a closed stream frees its place");
        let _fourth = caps.open(Some(one)).unwrap();
        assert_eq!(caps.open(None).unwrap_err(), StreamRefusal::ServerFull { most: 3 });
    }

    #[test]
    fn resyncs_spread_with_the_streams_open() {
        let caps = std::sync::Arc::new(StreamCaps::new(10_000, 10_000));
        assert_eq!(caps.resync_delay(), Duration::ZERO, "nothing to spread");
        let permits: Vec<_> = (0..500).map(|_| caps.open(None).unwrap()).collect();
        let delays: Vec<Duration> = (0..200).map(|_| caps.resync_delay()).collect();
        let spread = RESYNC_PACE * 500;
        assert!(delays.iter().all(|d| *d < spread), "{delays:?}");
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 150, "delays are random: {} distinct", distinct.len());
        let more: Vec<_> = (0..10_000 - 500).map(|_| caps.open(None).unwrap()).collect();
        assert!((0..200).all(|_| caps.resync_delay() < MOST_RESYNC_DELAY));
        drop((permits, more));
    }
}
