//! `sizeup serve`: a local page and a JSON API over the same commands the CLI runs.
//!
//! One tokio thread accepts connections (axum, HTTP/1); each API request runs its
//! command on the blocking pool, under a time limit, so a slow estimate never
//! holds the others up. The page, its script and its style are embedded in the
//! binary: nothing is fetched from elsewhere, and the `Content-Security-Policy`
//! says so to the browser.

pub mod api;
pub mod openapi;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use clap::Args;

use self::api::{ApiError, Endpoint, ENDPOINTS};
use crate::error::AppError;

/// The largest request body: a `config.json` as large as a file may be, plus the fields.
pub const MAX_BODY_BYTES: usize = crate::api::MAX_CONFIG_BYTES as usize + (64 << 10);

/// The longest one request may compute.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Requests computed at once; more wait their turn (within their time limit).
const WORKERS: usize = 4;

/// Requests computing or waiting at once; more are answered 503 at once. The
/// count falls when a computation ends, not when its request times out, so it
/// bounds the work really under way.
const MAX_IN_FLIGHT: usize = 4 * WORKERS;

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// One request counted in [`IN_FLIGHT`] until dropped.
struct Slot;

impl Slot {
    fn take() -> Option<Slot> {
        let before = IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        if before >= MAX_IN_FLIGHT {
            IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The route of the OpenAPI document.
pub const OPENAPI_ROUTE: &str = "/api/openapi.json";

/// Flags of `sizeup serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default: other machines cannot reach it)
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,
    /// Port to listen on (0: any free port, printed at start)
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
}

/// Listen, call `listening` with the address bound, and serve until stopped.
pub fn run(args: &ServeArgs, listening: impl FnOnce(SocketAddr)) -> Result<String, AppError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(WORKERS)
        .build()
        .map_err(|e| bind_error(args, e))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind((args.host, args.port))
            .await
            .map_err(|e| bind_error(args, e))?;
        let address = listener.local_addr().map_err(|e| bind_error(args, e))?;
        listening(address);
        axum::serve(listener, router())
            .await
            .map_err(|e| bind_error(args, e))?;
        Ok(String::new())
    })
}

fn bind_error(args: &ServeArgs, e: std::io::Error) -> AppError {
    AppError::Usage {
        flag: "--port",
        value: format!("{}:{}", args.host, args.port),
        problem: format!("could not listen: {e}"),
        hint: Some("pick another `--port`, or `--port 0` for any free one".into()),
    }
}

/// Every route: the page, its assets, the OpenAPI document and the commands.
pub fn router() -> Router {
    let mut router = Router::new()
        .route(
            "/",
            get(|| async { asset(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/app.js",
            get(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/app.css",
            get(|| async { asset(APP_CSS, "text/css; charset=utf-8") }),
        )
        .route(
            OPENAPI_ROUTE,
            get(|| async {
                let text = serde_json::to_string_pretty(&openapi::document()).unwrap_or_default();
                json_response(StatusCode::OK, text + "\n")
            }),
        );
    for e in ENDPOINTS {
        router = router.route(
            e.path,
            get(
                move |q: Result<Query<Vec<(String, String)>>, QueryRejection>| async move {
                    match q {
                        Ok(Query(pairs)) => respond(e, Ok(api::fields_from_query(pairs))).await,
                        Err(r) => error_response(&ApiError::with_status(400, r.body_text())),
                    }
                },
            )
            .post(move |body: Result<Bytes, BytesRejection>| async move {
                match body {
                    Ok(bytes) => respond(e, api::fields_from_json(&bytes)).await,
                    Err(r) => error_response(&ApiError::with_status(
                        r.status().as_u16(),
                        format!(
                            "{} (the body may hold at most {MAX_BODY_BYTES} bytes)",
                            r.body_text()
                        ),
                    )),
                }
            }),
        );
    }
    router
        .fallback(|| async {
            error_response(&ApiError::with_status(
                404,
                "no such route (`/api/openapi.json` lists them)".into(),
            ))
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// Run a request's command on the blocking pool, within [`REQUEST_TIMEOUT`].
async fn respond(
    endpoint: &'static Endpoint,
    fields: Result<Vec<(String, serde_json::Value)>, ApiError>,
) -> Response {
    let fields = match fields {
        Ok(fields) => fields,
        Err(e) => return error_response(&e),
    };
    let Some(slot) = Slot::take() else {
        return error_response(&ApiError::with_status(
            503,
            format!("the server is busy ({MAX_IN_FLIGHT} requests under way): try again shortly"),
        ));
    };
    let work = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        (endpoint.answer)(fields)
    });
    match tokio::time::timeout(REQUEST_TIMEOUT, work).await {
        Ok(Ok(Ok(json))) => json_response(StatusCode::OK, json),
        Ok(Ok(Err(e))) => error_response(&e),
        Ok(Err(join)) => error_response(&ApiError::with_status(
            500,
            format!("the estimate failed: {join}"),
        )),
        Err(_) => error_response(&ApiError::with_status(
            503,
            format!(
                "the estimate took longer than {} s",
                REQUEST_TIMEOUT.as_secs()
            ),
        )),
    }
}

fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

fn error_response(e: &ApiError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    json_response(status, e.body())
}

const INDEX_HTML: &str = include_str!("page/index.html");
const APP_JS: &str = include_str!("page/app.js");
const APP_CSS: &str = include_str!("page/app.css");

/// An embedded asset; the page may load nothing from elsewhere.
fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'",
                ),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}
