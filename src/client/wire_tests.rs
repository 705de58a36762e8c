//! What the client puts on the wire, checked against a scripted loopback server: headers the
//! emulator's request log does not show (auth, transaction id, user agent), the token request
//! formats, verbatim `_links.next` and an HTTP-date `Retry-After`.

use super::*;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::sync::Mutex;

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    headers: HeaderMap,
    body: String,
}

/// Starts the scripted server; returns its base URL and what it saw.
async fn serve() -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let log = seen.clone();
    let next = format!("{base}/v1/roles?cursor=a%2Bb");
    let app = axum::Router::new().fallback(
        move |method: axum::http::Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let log = log.clone();
            let next = next.clone();
            async move {
                let earlier = log
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|s| s.uri == uri.to_string())
                    .count();
                log.lock().unwrap().push(Seen {
                    method: method.to_string(),
                    uri: uri.to_string(),
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
                answer(uri.to_string().as_str(), earlier, &next)
            }
        },
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, seen)
}

/// The script: a token, two pages of roles, and an environment that is busy once.
fn answer(uri: &str, earlier: usize, next: &str) -> Response {
    let ok = |body: Value| (StatusCode::OK, axum::Json(body)).into_response();
    match uri {
        "/env-1/as/token" => ok(json!({
            "access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600
        })),
        "/v1/roles" => ok(json!({
            "_links": {"self": {"href": "x"}, "next": {"href": next}},
            "_embedded": {"roles": [{"id": "r1", "name": "Environment Admin"}]}
        })),
        "/v1/environments/e1/applications" => ok(json!({
            "_links": {"next": {"href": "https://elsewhere.example/v1/environments/e1/applications"}},
            "_embedded": {"applications": []}
        })),
        "/v1/roles?cursor=a%2Bb" => ok(json!({"_links": {"self": {"href": "x"}}, "count": 0})),
        "/v1/environments/e1" if earlier == 0 => {
            // An HTTP-date in the past: retry at once (after `initial_delay`).
            let mut busy = (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
            busy.headers_mut().insert(
                "retry-after",
                axum::http::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
            );
            busy
        }
        "/v1/environments/e1" => ok(json!({
            "id": "e1", "name": "Env", "region": "NA", "type": "SANDBOX",
            "organization": {"id": "o1"}
        })),
        _ => (StatusCode::NOT_FOUND, "no script").into_response(),
    }
}

fn client(base: &str, auth_method: TokenAuthMethod) -> Client {
    let mut options = ClientOptions::new(
        Endpoints::new(&format!("{base}/v1"), base).unwrap(),
        Credentials {
            client_id: "client-1".into(),
            client_secret: Secret::new("s3cret"),
            environment_id: "env-1".into(),
            auth_method,
        },
    );
    options.transaction_id = "run-42".into();
    options.retry.initial_delay = Duration::from_millis(10);
    Client::new(options).unwrap()
}

fn header<'a>(seen: &'a Seen, name: &str) -> &'a str {
    seen.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[test]
fn requests_carry_the_documented_headers_and_follow_next_links_verbatim() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let seen = runtime.block_on(async {
        let (base, seen) = serve().await;
        let client = client(&base, TokenAuthMethod::ClientSecretBasic);
        let roles = client.roles().await.unwrap();
        assert_eq!(roles.len(), 1);
        let environment = client.environment("e1").await.unwrap();
        assert_eq!(environment.organization.id, "o1");
        assert_eq!(client.requests_sent(), 5);
        seen.lock().unwrap().clone()
    });
    let uris: Vec<_> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.uri.as_str()))
        .collect();
    assert_eq!(
        uris,
        [
            ("POST", "/env-1/as/token"),
            ("GET", "/v1/roles"),
            ("GET", "/v1/roles?cursor=a%2Bb"),
            ("GET", "/v1/environments/e1"),
            ("GET", "/v1/environments/e1"),
        ]
    );
    let token = &seen[0];
    assert_eq!(header(token, "authorization"), "Basic Y2xpZW50LTE6czNjcmV0");
    assert_eq!(
        header(token, "content-type"),
        "application/x-www-form-urlencoded"
    );
    assert_eq!(token.body, "grant_type=client_credentials");
    for request in &seen {
        assert_eq!(header(request, "x-ping-external-transaction-id"), "run-42");
        assert_eq!(
            header(request, "user-agent"),
            concat!("p1run/", env!("CARGO_PKG_VERSION"))
        );
    }
    for request in &seen[1..] {
        assert_eq!(header(request, "authorization"), "Bearer tok-1");
        assert_eq!(
            header(request, "accept"),
            "application/json, application/hal+json"
        );
    }
}

#[test]
fn client_secret_post_sends_the_credentials_as_form_fields() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let seen = runtime.block_on(async {
        let (base, seen) = serve().await;
        client(&base, TokenAuthMethod::ClientSecretPost)
            .roles()
            .await
            .unwrap();
        seen.lock().unwrap().clone()
    });
    let token = &seen[0];
    assert_eq!(header(token, "authorization"), "");
    assert_eq!(
        token.body,
        "grant_type=client_credentials&client_id=client-1&client_secret=s3cret"
    );
}

#[test]
fn next_links_to_another_host_are_not_followed() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (error, seen) = runtime.block_on(async {
        let (base, seen) = serve().await;
        let error = client(&base, TokenAuthMethod::ClientSecretBasic)
            .applications("e1")
            .await
            .unwrap_err();
        (error, seen.lock().unwrap().len())
    });
    assert!(
        matches!(&error, ClientError::Decode { message, .. } if message.contains("another host")),
        "{error:?}"
    );
    assert_eq!(seen, 2, "the token and the first page only");
}
