//! A PingOne admin's view of an emulator over raw HTTP, independent of `p1run`'s own client:
//! the bootstrap worker's token, then plain GETs and writes, on the emulator tests' `Http`.

use crate::kit::{Http, Reply};
use p1run::emulator::Emulator;
use serde_json::{Value, json};
use std::time::Duration;

/// Statuses an emulator with injected faults or a rate limit answers before the real one.
const INJECTED: [u16; 4] = [429, 500, 502, 503];

/// Raw HTTP access to an emulator as its bootstrap admin.
pub struct Admin {
    http: Http,
    api_url: String,
    auth_url: String,
    token: String,
    /// The environment the bootstrap worker lives in.
    pub environment_id: String,
    /// The organization.
    pub organization_id: String,
}

/// Sends a request again while it answers one of `retry_on`, waiting as `Retry-After` says,
/// so that tests against a faulty or rate-limited emulator read its real state.
fn send_retrying(
    http: &Http,
    retry_on: &[u16],
    build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
) -> Reply {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let reply = http.send(&build);
        if !retry_on.contains(&reply.status) || attempt >= 40 {
            return reply;
        }
        let retry_after = reply
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        std::thread::sleep(retry_after.map_or(Duration::from_millis(50), Duration::from_secs));
    }
}

impl Admin {
    /// Logs in as the emulator's bootstrap worker.
    pub fn new(emulator: &Emulator) -> Self {
        let info = emulator.info();
        let http = Http::new();
        let token = token(
            &http,
            &info.auth_url,
            &info.environment_id,
            &info.client_id,
            &info.client_secret,
            false,
        )
        .expect("bootstrap token");
        Self {
            http,
            api_url: info.api_url.clone(),
            auth_url: info.auth_url.clone(),
            token,
            environment_id: info.environment_id.clone(),
            organization_id: info.organization_id.clone(),
        }
    }

    /// `METHOD {api_url}{path}` with an optional JSON body; returns (status, body or Null).
    /// Injected faults (429, 5xx) are retried a bounded number of times.
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_retrying(method, path, body, &INJECTED)
    }

    fn call_retrying(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        retry_on: &[u16],
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.api_url);
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let reply = send_retrying(&self.http, retry_on, |client| {
            let request = client
                .request(method.clone(), &url)
                .bearer_auth(&self.token);
            match &body {
                Some(body) => request.json(body),
                None => request,
            }
        });
        (
            reply.status,
            serde_json::from_str(&reply.text).unwrap_or(Value::Null),
        )
    }

    /// GET that must succeed.
    #[track_caller]
    pub fn get(&self, path: &str) -> Value {
        let (status, body) = self.call("GET", path, None);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// The applications of an environment.
    pub fn applications(&self, env: &str) -> Vec<Value> {
        let body = self.get(&format!("/environments/{env}/applications"));
        body["_embedded"]["applications"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The one application with this name in `env`, if any.
    pub fn application_named(&self, env: &str, name: &str) -> Option<Value> {
        let mut found: Vec<Value> = self
            .applications(env)
            .into_iter()
            .filter(|app| app["name"] == name)
            .collect();
        assert!(found.len() <= 1, "more than one {name:?}: {found:?}");
        found.pop()
    }

    /// `(role name, scope type, scope id)` of an application's role assignments, sorted.
    pub fn grants(&self, env: &str, app_id: &str) -> Vec<(String, String, String)> {
        let roles = self.get("/roles");
        let role_name = |id: &Value| {
            roles["_embedded"]["roles"]
                .as_array()
                .and_then(|all| all.iter().find(|role| &role["id"] == id))
                .map(|role| role["name"].as_str().unwrap_or_default().to_owned())
                .unwrap_or_default()
        };
        let body = self.get(&format!(
            "/environments/{env}/applications/{app_id}/roleAssignments"
        ));
        let mut grants: Vec<_> = body["_embedded"]["roleAssignments"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|a| {
                (
                    role_name(&a["role"]["id"]),
                    a["scope"]["type"].as_str().unwrap_or_default().to_owned(),
                    a["scope"]["id"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        grants.sort();
        grants
    }

    /// Asks for a token for `client_id` with the given method; `Ok(token)` or `Err(status)`.
    pub fn token_for(
        &self,
        env: &str,
        client_id: &str,
        secret: &str,
        form: bool,
    ) -> Result<String, u16> {
        token(&self.http, &self.auth_url, env, client_id, secret, form)
    }

    /// An application's secret.
    pub fn secret(&self, env: &str, app_id: &str) -> String {
        let body = self.get(&format!("/environments/{env}/applications/{app_id}/secret"));
        body["secret"].as_str().expect("secret").to_owned()
    }

    /// PUTs an application back with one field changed (behind the tool's back).
    pub fn set_field(&self, env: &str, app_id: &str, field: &str, value: Value) {
        let mut app = self.get(&format!("/environments/{env}/applications/{app_id}"));
        let object = app.as_object_mut().expect("object");
        for read_only in ["_links", "id", "environment", "createdAt", "updatedAt"] {
            object.remove(read_only);
        }
        object.insert(field.to_owned(), value);
        let (status, body) = self.call(
            "PUT",
            &format!("/environments/{env}/applications/{app_id}"),
            Some(json!(object)),
        );
        assert_eq!(status, 200, "PUT: {body}");
    }

    /// A new worker in `env` holding `roles` at that environment, with its secret: an acting
    /// worker with less than the bootstrap admin's rights.
    pub fn limited_actor(&self, env: &str, name: &str, roles: &[&str]) -> (String, String) {
        let (status, app) = self.call(
            "POST",
            &format!("/environments/{env}/applications"),
            Some(json!({
                "name": name, "enabled": true, "type": "WORKER", "protocol": "OPENID_CONNECT",
                "grantTypes": ["CLIENT_CREDENTIALS"], "tokenEndpointAuthMethod": "CLIENT_SECRET_BASIC",
                "assignActorRoles": false
            })),
        );
        assert_eq!(status, 201, "{app}");
        let actor = app["id"].as_str().unwrap().to_owned();
        let listed = self.get("/roles");
        for role in roles {
            let role_id = listed["_embedded"]["roles"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == *role)
                .unwrap_or_else(|| panic!("no built-in role {role:?}"))["id"]
                .clone();
            let (status, body) = self.call(
                "POST",
                &format!("/environments/{env}/applications/{actor}/roleAssignments"),
                Some(json!({ "role": { "id": role_id }, "scope": { "type": "ENVIRONMENT", "id": env } })),
            );
            assert_eq!(status, 201, "{body}");
        }
        let secret = self.secret(env, &actor);
        (actor, secret)
    }
}

fn token(
    http: &Http,
    auth_url: &str,
    env: &str,
    client_id: &str,
    secret: &str,
    form: bool,
) -> Result<String, u16> {
    let url = format!("{auth_url}/{env}/as/token");
    let reply = send_retrying(http, &INJECTED, |client| {
        if form {
            client.post(&url).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
            ])
        } else {
            client
                .post(&url)
                .basic_auth(client_id, Some(secret))
                .form(&[("grant_type", "client_credentials")])
        }
    });
    match reply.status {
        200 => Ok(reply.json()["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()),
        status => Err(status),
    }
}
