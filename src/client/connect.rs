//! The HTTP clients behind a [`super::Client`]: which one a URL uses, proxies and trust.
//!
//! Two pools, because the two kinds of target have different needs:
//! * plain `http://` (only ever to a loopback host, see [`super::Endpoints::new`]) needs no
//!   certificates and must never go through a proxy: the token request carries the worker's
//!   credentials, and a proxy named for the network is exactly the network the loopback rule
//!   keeps them off;
//! * `https://` needs the system's CA certificates and honours the proxy the environment names
//!   (`HTTPS_PROXY`, else `ALL_PROXY`; `NO_PROXY` exempts hosts), as curl does — except for a
//!   loopback host, which never goes through a proxy either.
//!
//! The https pool is built on first use, so a machine without a CA store (a minimal container)
//! can still run against the embedded emulator; for an https target the error then says what is
//! missing and how to provide it.

use super::ClientError;
use hyper_util::client::proxy::matcher::Matcher;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;
use url::{Host, Url};

/// Longest wait for one HTTP exchange; the call's deadline may shorten it.
pub(super) const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The `User-Agent` of every request.
const USER_AGENT: &str = concat!("p1run/", env!("CARGO_PKG_VERSION"));

/// Longest wait for a TCP/TLS connection; an unreachable host should fail fast.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What to do when the CA store is missing or does not trust a certificate.
pub(super) const TRUST_HINT: &str = "p1run trusts the system's CA store: install it (e.g. the \
    ca-certificates package), or point SSL_CERT_FILE at a PEM bundle of trusted CA certificates \
    (SSL_CERT_DIR at a directory of them); for a proxy or server signed by your organisation's \
    own CA, add that CA there";

/// HTTP connection pools that several [`super::Client`]s can share (a fleet run talks to few
/// hosts). Cheap to clone: clones share the pools.
#[derive(Debug, Clone)]
pub struct Connections {
    /// For `http://` to loopback: no certificates, no proxy.
    plain: reqwest::Client,
    /// For `https://`, built on first use; the error is kept as text (reqwest's is not `Clone`).
    tls: Arc<OnceLock<Result<reqwest::Client, String>>>,
    /// The proxy rules the https pool follows, read from the environment once.
    proxy: Arc<ProxyRules>,
    /// Origins whose certificate was refused, with rustls' reason: every later request to
    /// them (concurrent reads, the other environments of a fleet) fails at once instead of
    /// making another handshake that cannot succeed.
    refused: Arc<Mutex<HashMap<String, String>>>,
}

impl Connections {
    /// New pools with the client's timeout and redirect settings. Needs no CA certificates:
    /// those are loaded when the first https target asks for them.
    pub fn new() -> Result<Self, ClientError> {
        install_crypto_provider();
        // An empty set of roots "only": nothing is loaded from the system, and nothing could be
        // verified, which is right since this pool never speaks TLS.
        let plain = builder()
            .no_proxy()
            .tls_certs_only(Vec::new())
            .build()
            .map_err(|e| {
                ClientError::InvalidEndpoint(format!(
                    "cannot build the HTTP client: {}",
                    root_cause(&e)
                ))
            })?;
        Ok(Self {
            plain,
            tls: Arc::default(),
            proxy: Arc::new(ProxyRules::from_env()),
            refused: Arc::default(),
        })
    }

    /// The pools a client with these base URLs needs; the https one is built here when one of
    /// them is `https://`, so that a missing CA store fails before any request.
    pub(super) fn for_urls(&self, urls: &[&Url]) -> Result<Pools, ClientError> {
        let mut tls = None;
        for url in urls {
            if url.scheme() == "https" {
                if tls.is_none() {
                    tls = Some(self.tls(url)?);
                }
                match self.proxy.route(url) {
                    Some(proxy) => tracing::info!(
                        target = %url.origin().ascii_serialization(),
                        %proxy,
                        "requests go through a proxy (HTTPS_PROXY/ALL_PROXY; NO_PROXY exempts hosts)"
                    ),
                    None => tracing::debug!(
                        target = %url.origin().ascii_serialization(),
                        "requests go directly, without a proxy"
                    ),
                }
            } else {
                tracing::debug!(
                    target = %url.origin().ascii_serialization(),
                    "plain http to loopback: never through a proxy"
                );
            }
        }
        Ok(Pools {
            plain: self.plain.clone(),
            tls,
            refused: self.refused.clone(),
        })
    }

    /// The https pool, built once.
    fn tls(&self, url: &Url) -> Result<reqwest::Client, ClientError> {
        let built = self.tls.get_or_init(|| {
            let rules = self.proxy.clone();
            // The proxy URL goes to reqwest as the environment gave it, credentials included;
            // the decision is ours, so that loopback is never proxied.
            let proxy = reqwest::Proxy::custom(move |url| rules.route_raw(url));
            builder().proxy(proxy).build().map_err(|e| root_cause(&e))
        });
        built.clone().map_err(|message| ClientError::TrustStore {
            origin: url.origin().ascii_serialization(),
            message,
        })
    }
}

/// The pools one client uses, picked per URL.
#[derive(Debug, Clone)]
pub(super) struct Pools {
    plain: reqwest::Client,
    tls: Option<reqwest::Client>,
    refused: Arc<Mutex<HashMap<String, String>>>,
}

impl Pools {
    /// The pool for `url`: the https one for `https://`, else the plain one.
    pub(super) fn for_url(&self, url: &Url) -> Result<&reqwest::Client, ClientError> {
        if url.scheme() != "https" {
            return Ok(&self.plain);
        }
        // Unreachable through `Client::new`, which builds the https pool for https endpoints;
        // kept as an error rather than a panic.
        self.tls.as_ref().ok_or_else(|| {
            ClientError::InvalidEndpoint(format!(
                "{} is https, but the client was built for plain http only",
                url.origin().ascii_serialization()
            ))
        })
    }

    /// Why `url`'s origin presented a certificate that was refused earlier in this process.
    pub(super) fn refusal(&self, url: &Url) -> Option<String> {
        let refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        refused.get(&url.origin().ascii_serialization()).cloned()
    }

    /// Remembers that `url`'s origin presented a certificate that was refused.
    pub(super) fn remember_refusal(&self, url: &Url, message: &str) {
        let mut refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        refused.insert(url.origin().ascii_serialization(), message.to_owned());
    }
}

/// The settings both pools share: rustls with the ring provider (chosen over aws-lc to avoid
/// its C build), gzip answers accepted (a proxy or PingOne may compress), no redirects (PingOne
/// does not redirect API calls, and a redirect must not carry the bearer token elsewhere).
fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .tls_backend_rustls()
        .user_agent(USER_AGENT)
        .gzip(true)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
}

/// reqwest is built with `rustls-no-provider`, so a process-wide provider must be installed
/// before the first client; an error only means one is installed already.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Which https destinations go through a proxy: the environment's rules, as curl reads them,
/// minus loopback hosts.
#[derive(Debug)]
struct ProxyRules {
    /// The proxy URL as the environment gave it (it may carry credentials), when one is set.
    raw: Option<String>,
    matcher: Matcher,
}

impl ProxyRules {
    fn from_env() -> Self {
        let raw = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
            .map(|value| {
                // hyper's matcher reads `host:port` as http://host:port; so does reqwest here.
                if value.contains("://") {
                    value
                } else {
                    format!("http://{value}")
                }
            });
        Self {
            raw,
            matcher: Matcher::from_env(),
        }
    }

    /// The proxy `url` goes through, for logs (no credentials), or `None` when it goes direct.
    fn route(&self, url: &Url) -> Option<String> {
        if url.scheme() != "https" || is_loopback(url) {
            return None;
        }
        let uri: hyper_util::client::proxy::matcher::Intercept =
            self.matcher.intercept(&url.as_str().parse().ok()?)?;
        Some(uri.uri().to_string())
    }

    /// The proxy URL for reqwest, credentials included, or `None` when `url` goes direct.
    fn route_raw(&self, url: &Url) -> Option<String> {
        self.route(url)?;
        self.raw.clone()
    }
}

/// True for `localhost`, 127.0.0.0/8 and `::1`.
pub(super) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// The innermost cause of an error, e.g. `connection refused`; reqwest's own text for a
/// builder failure is only "builder error".
pub(super) fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    causes(error)
        .last()
        .map_or_else(|| error.to_string(), ToString::to_string)
}

/// An error and its causes, outermost first. `io::Error::source()` skips the error it wraps
/// (hyper-rustls hands rustls' error up inside one or two of them), so this looks inside.
fn causes<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(error), |current| {
        match current
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => current.source(),
        }
    })
}

/// When the error is a refused certificate, what rustls said about it. A certificate that is
/// not trusted now will not be trusted on the next attempt, so these are never retried.
pub(super) fn certificate_problem(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    causes(error)
        .find_map(|cause| cause.downcast_ref::<rustls::Error>())
        .filter(|tls| {
            matches!(
                tls,
                rustls::Error::InvalidCertificate(_)
                    | rustls::Error::NoCertificatesPresented
                    | rustls::Error::UnsupportedNameType
                    | rustls::Error::InvalidCertRevocationList(_)
            )
        })
        .map(|tls| tls.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_never_routed_through_a_proxy() {
        let rules = ProxyRules {
            raw: Some("http://user:pw@proxy.test:3128".into()),
            matcher: Matcher::builder()
                .all("http://user:pw@proxy.test:3128")
                .no("internal.test")
                .build(),
        };
        let url = |s: &str| Url::parse(s).unwrap();
        for direct in [
            "https://127.0.0.1:8443",
            "https://localhost",
            "https://[::1]:1",
            "http://127.0.0.1:8443",
            "https://api.internal.test/v1",
        ] {
            assert_eq!(rules.route(&url(direct)), None, "{direct}");
        }
        let proxied = rules.route(&url("https://api.pingone.eu/v1")).unwrap();
        assert!(!proxied.contains("pw"), "no credentials in logs: {proxied}");
        assert_eq!(
            rules.route_raw(&url("https://auth.pingone.eu")).as_deref(),
            Some("http://user:pw@proxy.test:3128")
        );
    }
}
