//! Regions and the hosts behind them (docs/pingone.md, "Regions and hosts"), and the override
//! rules.

use super::connect::is_loopback;
use super::{ClientError, Endpoints, Region};
use std::fmt;
use std::str::FromStr;
use url::Url;

impl Region {
    /// All six, in the order of the table in docs/pingone.md, "Regions and hosts".
    pub const ALL: [Self; 6] = [Self::Na, Self::Eu, Self::Ca, Self::Au, Self::Sg, Self::Ap];

    /// The code PingOne uses in `Environment.region`, e.g. `NA`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Na => "NA",
            Self::Eu => "EU",
            Self::Ca => "CA",
            Self::Au => "AU",
            Self::Sg => "SG",
            Self::Ap => "AP",
        }
    }

    /// The hosts' top-level domain, e.g. `com.au` (docs/pingone.md, "Regions and hosts").
    pub fn tld(self) -> &'static str {
        match self {
            Self::Na => "com",
            Self::Eu => "eu",
            Self::Ca => "ca",
            Self::Au => "com.au",
            Self::Sg => "sg",
            Self::Ap => "asia",
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Region {
    type Err = ClientError;

    /// Case-insensitive region code. An unknown code is an error, never a silent fallback to
    /// NA: talking to the wrong region's hosts fails later with confusing 401s.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let code = s.trim();
        Self::ALL
            .into_iter()
            .find(|r| r.code().eq_ignore_ascii_case(code))
            .ok_or_else(|| ClientError::InvalidRegion(s.to_owned()))
    }
}

impl Endpoints {
    /// True when the management API is on this machine (`localhost`, 127.0.0.0/8, `::1`):
    /// an emulator, never PingOne, so PingOne's per-address limit does not apply to it.
    pub fn on_loopback(&self) -> bool {
        is_loopback(&self.api_url)
    }

    /// PingOne's public hosts for `region`: `https://api.pingone.{tld}/v1` and
    /// `https://auth.pingone.{tld}`.
    pub fn for_region(region: Region) -> Self {
        let tld = region.tld();
        // Both strings are built from constants and always parse.
        let parse = |s: String| Url::parse(&s).expect("a region's URL is valid");
        Self {
            api_url: parse(format!("https://api.pingone.{tld}/v1")),
            auth_url: parse(format!("https://auth.pingone.{tld}")),
        }
    }

    /// Explicit hosts, e.g. the emulator's or a proxy's (docs/pingone.md, "Regions and hosts").
    ///
    /// `api_url` must end in `/v1`. Both must be `https://`, except plain `http://` to a
    /// loopback host (127.0.0.0/8, `::1`, `localhost`): anything else would send the client
    /// secret and bearer tokens in clear text over a network.
    pub fn new(api_url: &str, auth_url: &str) -> Result<Self, ClientError> {
        let api_url = checked_url("api_url", api_url)?;
        let auth_url = checked_url("auth_url", auth_url)?;
        if !api_url.path().ends_with("/v1") {
            return Err(ClientError::InvalidEndpoint(format!(
                "api_url {api_url} must end in /v1, e.g. https://api.pingone.com/v1"
            )));
        }
        Ok(Self { api_url, auth_url })
    }
}

/// Parses one override URL and applies the scheme rule; the trailing `/` is dropped so that
/// paths can be appended.
fn checked_url(name: &str, raw: &str) -> Result<Url, ClientError> {
    // The raw URL is not echoed: it may carry credentials, which are refused below.
    let shown = url::Url::parse(raw).ok().map_or_else(
        || "(not a URL)".to_owned(),
        |mut url| {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        },
    );
    let invalid = |why: String| ClientError::InvalidEndpoint(format!("{name} {shown:?}: {why}"));
    let mut url = Url::parse(raw.trim()).map_err(|e| invalid(e.to_string()))?;
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(invalid("not an http(s) URL with a host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("credentials do not belong in the URL".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a base URL takes no query or fragment".into()));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(invalid(
                "plain http:// is only allowed to a loopback host (127.0.0.0/8, ::1, \
                 localhost); use https://"
                    .into(),
            ));
        }
        other => {
            return Err(invalid(format!(
                "unsupported scheme {other}:, use https://"
            )));
        }
    }
    let trimmed = url.path().trim_end_matches('/').to_owned();
    url.set_path(&trimmed);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_map_to_their_hosts() {
        let expected = [
            ("na", "com"),
            ("EU", "eu"),
            ("Ca", "ca"),
            ("au", "com.au"),
            ("SG", "sg"),
            ("ap", "asia"),
        ];
        for (code, tld) in expected {
            let region: Region = code.parse().unwrap();
            let endpoints = Endpoints::for_region(region);
            assert_eq!(
                endpoints.api_url.as_str(),
                format!("https://api.pingone.{tld}/v1")
            );
            assert_eq!(
                endpoints.auth_url.as_str(),
                format!("https://auth.pingone.{tld}/")
            );
            assert_eq!(
                region.code().to_ascii_lowercase(),
                code.to_ascii_lowercase()
            );
        }
    }

    #[test]
    fn unknown_region_lists_the_valid_codes() {
        let error = "US".parse::<Region>().unwrap_err();
        assert!(matches!(&error, ClientError::InvalidRegion(code) if code == "US"));
        assert_eq!(
            error.to_string(),
            "unknown PingOne region \"US\"; expected one of NA, EU, CA, AU, SG, AP"
        );
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.9.9.9",
            "http://[::1]:1",
            "http://LOCALHOST",
        ] {
            let endpoints = Endpoints::new(&format!("{ok}/v1/"), ok).unwrap();
            assert_eq!(endpoints.api_url.path(), "/v1");
        }
        Endpoints::new("https://api.example.test/v1", "https://auth.example.test").unwrap();
        for bad in [
            "http://10.0.0.1",
            "http://example.com",
            "http://localhost.evil.test",
        ] {
            let error = Endpoints::new("https://api.pingone.com/v1", bad).unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("only allowed to a loopback host"),
                "{error}"
            );
        }
    }

    #[test]
    fn api_url_needs_v1_and_no_query() {
        assert!(Endpoints::new("https://api.pingone.com", "https://auth.pingone.com").is_err());
        assert!(Endpoints::new("https://api.pingone.com/v1?x=1", "https://a.test").is_err());
        assert!(Endpoints::new("ftp://api.pingone.com/v1", "https://a.test").is_err());
        assert!(Endpoints::new("https://u:p@api.pingone.com/v1", "https://a.test").is_err());
    }
}
