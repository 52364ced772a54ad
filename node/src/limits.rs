//! Limits on what one HTTP client can take from a node: header size, requests per second per
//! client address, requests in flight, and time per request. Each refusal is a JSON error with
//! its own reason, and the node keeps serving everyone else. (Body sizes are capped by each
//! route before decoding.)

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::api::error;

/// The limits, from the node's options.
#[derive(Clone, Copy, Debug, clap::Args)]
pub struct ApiLimits {
    /// Most bytes of request headers (names and values).
    #[arg(long, default_value_t = 16 * 1024)]
    pub max_header_bytes: usize,
    /// Most requests per second from one client address (0: no limit). Bursts of twice that
    /// are allowed.
    #[arg(long, default_value_t = 1000)]
    pub rate_limit: u32,
    /// Most requests served at once; more are answered 503 at once.
    #[arg(long, default_value_t = 512)]
    pub max_concurrent_requests: usize,
    /// Most seconds for one request (a submission waiting for its commit waits at most 30).
    #[arg(long, default_value_t = 45)]
    pub request_timeout_secs: u64,
}

/// Client addresses tracked at most; beyond, the oldest buckets are dropped.
const MAX_CLIENTS: usize = 10_000;

/// The state the limits keep.
pub struct Guard {
    limits: ApiLimits,
    in_flight: Arc<Semaphore>,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

/// A token bucket: `tokens` available as of `at`.
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Guard {
    /// Limits as given.
    pub fn new(limits: ApiLimits) -> Self {
        Guard {
            limits,
            in_flight: Arc::new(Semaphore::new(limits.max_concurrent_requests.max(1))),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token of `client`'s bucket; false when it is empty.
    fn allow(&self, client: IpAddr) -> bool {
        let rate = f64::from(self.limits.rate_limit);
        if rate == 0.0 {
            return true;
        }
        let burst = rate * 2.0;
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(&client) {
            let stale = now - Duration::from_secs(60);
            buckets.retain(|_, b| b.at > stale);
            if buckets.len() >= MAX_CLIENTS {
                buckets.clear();
            }
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        bucket.tokens =
            (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * rate).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The middleware: header size, rate, concurrency, then the request under its time limit.
pub async fn guard(
    State(guard): State<Arc<Guard>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let limits = guard.limits;
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > limits.max_header_bytes {
        return error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "request headers are {header_bytes} bytes, at most {} are read",
                limits.max_header_bytes
            ),
        );
    }
    if !guard.allow(peer.ip()) {
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "more than {} requests per second from {}; slow down",
                limits.rate_limit,
                peer.ip()
            ),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return response;
    }
    let Ok(_permit) = guard.in_flight.clone().try_acquire_owned() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            format!(
                "{} requests are in flight, the most this node serves at once; retry shortly",
                limits.max_concurrent_requests
            ),
        );
    };
    let timeout = Duration::from_secs(limits.request_timeout_secs.max(1));
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!("the request took more than {} s", timeout.as_secs()),
        )
        .into_response(),
    }
}
