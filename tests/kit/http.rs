//! Shared test helpers: a blocking HTTP client over reqwest, a started emulator with its admin
//! token ([`Harness`]), and a [`SpecValidator`] that checks bodies against the PingOne spec
//! copies in `tests/spec/`.

#![allow(dead_code)] // each test module uses a different part of the kit

use p1run::emulator::{Emulator, EmulatorInfo, EmulatorOptions};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

/// A blocking HTTP client: reqwest on a small runtime of its own, so plain `#[test]`s can use it.
pub struct Http {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    /// The body as JSON; panics with the body when it is not.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|error| {
            panic!("not JSON ({error}), status {}: {}", self.status, self.text)
        })
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    }

    /// Asserts the status and that the body is a valid `schema` of the spec; returns the body.
    #[track_caller]
    pub fn expect(&self, status: u16, schema: &str) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        let body = self.json();
        spec().validate(schema, &body);
        body
    }

    /// Asserts an `EntityArray` whose `_embedded.<key>` items are each a valid `item_schema`;
    /// returns the body.
    #[track_caller]
    pub fn expect_list(&self, key: &str, item_schema: &str) -> Value {
        let body = self.expect(200, "EntityArray");
        let items = body["_embedded"][key]
            .as_array()
            .unwrap_or_else(|| panic!("no _embedded.{key} in {body}"));
        for item in items {
            spec().validate(item_schema, item);
        }
        assert_eq!(
            body["size"].as_u64(),
            Some(items.len() as u64),
            "size is the page size"
        );
        body
    }

    /// Asserts a PingOne error with this status and code, valid against the official schema
    /// for the status (or the generic one) and the management spec's `P1Error`; returns it.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        assert!(
            self.header("content-type")
                .is_some_and(|value| value.starts_with("application/json")),
            "an error must be JSON: {:?}",
            self.headers
        );
        let body = self.json();
        let schema = match status {
            400 | 401 | 403 | 404 | 415 | 429 | 500 => {
                format!("com.pingidentity.ApiErrorResponse.{status}")
            }
            _ => "com.pingidentity.ApiErrorResponse".to_owned(),
        };
        spec().validate(&schema, &body);
        spec().validate("P1Error", &body);
        assert_eq!(body["code"], code, "{body}");
        assert!(
            uuid::Uuid::parse_str(body["id"].as_str().unwrap_or_default()).is_ok(),
            "{body}"
        );
        body
    }

    /// The single detail of an error body.
    #[track_caller]
    pub fn detail(&self) -> Value {
        let body = self.json();
        let details = body["details"]
            .as_array()
            .unwrap_or_else(|| panic!("no details: {body}"));
        assert_eq!(details.len(), 1, "{body}");
        details[0].clone()
    }
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

impl Http {
    pub fn new() -> Self {
        // reqwest is built without a bundled crypto provider; plain-HTTP tests still need one
        // installed to build a client.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = reqwest::Client::builder().build().unwrap();
        Self { runtime, client }
    }

    /// Sends whatever `build` makes of the client.
    pub fn send(&self, build: impl FnOnce(&reqwest::Client) -> reqwest::RequestBuilder) -> Reply {
        let request = build(&self.client);
        self.runtime.block_on(async {
            let response = request.send().await.expect("the emulator answers");
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let text = response.text().await.expect("a readable body");
            Reply {
                status,
                headers,
                text,
            }
        })
    }

    /// A JSON request with an optional bearer token.
    pub fn request(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        self.send(|client| {
            let mut request = client.request(method, url);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            request
        })
    }
}

/// A started emulator, a client, and a token of the bootstrap admin worker.
pub struct Harness {
    pub emulator: Emulator,
    pub http: Http,
    pub admin: String,
}

impl Harness {
    /// An emulator with default options.
    pub fn start() -> Self {
        Self::with_options(EmulatorOptions::default())
    }

    pub fn with_options(options: EmulatorOptions) -> Self {
        let emulator = Emulator::start(options).expect("the emulator starts");
        let http = Http::new();
        let info = emulator.info().clone();
        let mut harness = Self {
            emulator,
            http,
            admin: String::new(),
        };
        harness.admin =
            harness.token_basic(&info.environment_id, &info.client_id, &info.client_secret);
        harness
    }

    pub fn info(&self) -> &EmulatorInfo {
        self.emulator.info()
    }

    pub fn env(&self) -> String {
        self.info().environment_id.clone()
    }

    /// `{api_url}{path}`.
    pub fn api(&self, path: &str) -> String {
        format!("{}{path}", self.info().api_url)
    }

    /// `{api_url}/environments/{first env}/applications{suffix}`.
    pub fn apps(&self, suffix: &str) -> String {
        self.api(&format!(
            "/environments/{}/applications{suffix}",
            self.env()
        ))
    }

    pub fn token_url(&self, environment_id: &str) -> String {
        format!("{}/{environment_id}/as/token", self.info().auth_url)
    }

    /// A token by `CLIENT_SECRET_BASIC`; panics unless granted.
    #[track_caller]
    pub fn token_basic(&self, environment_id: &str, client_id: &str, secret: &str) -> String {
        let reply = self.http.send(|client| {
            client
                .post(self.token_url(environment_id))
                .basic_auth(client_id, Some(secret))
                .form(&[("grant_type", "client_credentials")])
        });
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["access_token"].as_str().unwrap().to_owned()
    }

    pub fn get(&self, url: &str, token: &str) -> Reply {
        self.http.request("GET", url, Some(token), None)
    }

    pub fn post(&self, url: &str, token: &str, body: &Value) -> Reply {
        self.http.request("POST", url, Some(token), Some(body))
    }

    pub fn put(&self, url: &str, token: &str, body: &Value) -> Reply {
        self.http.request("PUT", url, Some(token), Some(body))
    }

    pub fn delete(&self, url: &str, token: &str) -> Reply {
        self.http.request("DELETE", url, Some(token), None)
    }

    /// The id of a built-in role, looked up by name as the docs say to.
    #[track_caller]
    pub fn role_id(&self, name: &str) -> String {
        let roles = self
            .get(&self.api("/roles"), &self.admin)
            .expect_list("roles", "Role");
        roles["_embedded"]["roles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|role| role["name"] == name)
            .unwrap_or_else(|| panic!("no role {name}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Creates a worker in the first environment with `assignActorRoles: false`.
    #[track_caller]
    pub fn create_worker(&self, name: &str) -> Value {
        self.create_app(&self.admin, &worker_body(name))
    }

    #[track_caller]
    pub fn create_app(&self, token: &str, body: &Value) -> Value {
        self.post(&self.apps(""), token, body)
            .expect(201, "ApplicationOIDC")
    }

    /// An application's secret, read by the admin.
    #[track_caller]
    pub fn secret_of(&self, app_id: &str) -> String {
        let secret = self
            .get(&self.apps(&format!("/{app_id}/secret")), &self.admin)
            .expect(200, "ApplicationSecret");
        secret["secret"].as_str().unwrap().to_owned()
    }

    /// Grants a role to an application as `token`.
    pub fn assign(
        &self,
        token: &str,
        app_id: &str,
        role: &str,
        scope_type: &str,
        scope_id: &str,
    ) -> Reply {
        let body = json!({ "role": { "id": self.role_id(role) }, "scope": { "id": scope_id, "type": scope_type } });
        self.post(
            &self.apps(&format!("/{app_id}/roleAssignments")),
            token,
            &body,
        )
    }

    /// A worker holding exactly these roles (granted by the admin), and a token of it.
    #[track_caller]
    pub fn worker_with_roles(&self, name: &str, grants: &[(&str, &str, &str)]) -> (Value, String) {
        let app = self.create_worker(name);
        let id = app["id"].as_str().unwrap();
        for (role, scope_type, scope_id) in grants {
            self.assign(&self.admin, id, role, scope_type, scope_id)
                .expect(201, "RoleAssignment");
        }
        let token = self.token_basic(&self.env(), id, &self.secret_of(id));
        (app, token)
    }
}

/// The body of the recipe's worker: enabled, client credentials, Basic, no inherited roles.
pub fn worker_body(name: &str) -> Value {
    json!({
        "name": name,
        "description": "a test worker",
        "enabled": true,
        "type": "WORKER",
        "protocol": "OPENID_CONNECT",
        "grantTypes": ["CLIENT_CREDENTIALS"],
        "tokenEndpointAuthMethod": "CLIENT_SECRET_BASIC",
        "assignActorRoles": false,
    })
}

/// Polls `attempt` until it returns `Some` or `deadline` passes; for eventual-consistency
/// tests, which must not sleep a fixed time and hope.
#[track_caller]
pub fn poll<T>(deadline: std::time::Duration, mut attempt: impl FnMut() -> Option<T>) -> T {
    let until = std::time::Instant::now() + deadline;
    loop {
        if let Some(value) = attempt() {
            return value;
        }
        assert!(
            std::time::Instant::now() < until,
            "still not there after {deadline:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Validates JSON against the component schemas of the spec copies in `tests/spec/`.
///
/// The spec is OpenAPI 3.0 (management) and 3.1 (official errors); to use it as JSON Schema
/// 2020-12 this helper adapts it: every `oneOf` becomes `anyOf` (OpenAPI relies on a
/// discriminator the spec does not declare, and its alternatives overlap: a `Role` also
/// satisfies `UserApplicationRoleAssignment`, `"NA"` satisfies both arms of
/// `Environment_region`), and the nested `$schema` keys of the official file are dropped.
/// Formats (`uuid`, `date-time`, `uri`) are asserted.
///
/// The spec leaves `additionalProperties` open, so on top of the schema every key of the
/// validated object must be a property the schema (or its `allOf` parts) declares: a response
/// that grows a field the spec does not know fails.
pub struct SpecValidator {
    /// The adapted `components` of each spec file.
    files: Vec<Value>,
    /// Which file defines each schema name.
    file_of: HashMap<String, usize>,
    validators: Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>,
}

/// The validator over both spec files.
pub fn spec() -> &'static SpecValidator {
    static SPEC: OnceLock<SpecValidator> = OnceLock::new();
    SPEC.get_or_init(SpecValidator::load)
}

impl SpecValidator {
    fn load() -> Self {
        let mut files = Vec::new();
        let mut file_of = HashMap::new();
        for file in [
            "subset-management.yaml",
            "subset-official-errors-environment.yaml",
        ] {
            let path = format!("{}/tests/spec/{file}", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).unwrap();
            let document: Value = serde_norway::from_str(&text).unwrap();
            let mut file_components = document["components"].clone();
            adapt(&mut file_components);
            for name in file_components["schemas"].as_object().unwrap().keys() {
                file_of.insert(name.clone(), files.len());
            }
            files.push(file_components);
        }
        Self {
            files,
            file_of,
            validators: Mutex::new(HashMap::new()),
        }
    }

    fn components_of(&self, schema: &str) -> &Value {
        let file = self
            .file_of
            .get(schema)
            .unwrap_or_else(|| panic!("no schema {schema} in the spec"));
        &self.files[*file]
    }

    fn validator(&self, schema: &str) -> std::sync::Arc<jsonschema::Validator> {
        let mut validators = self.validators.lock().unwrap();
        validators
            .entry(schema.to_owned())
            .or_insert_with(|| {
                let components = self.components_of(schema);
                let root = json!({ "$ref": format!("#/components/schemas/{schema}"), "components": components });
                let validator = jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .should_validate_formats(true)
                    .build(&root)
                    .unwrap_or_else(|error| panic!("schema {schema} does not compile: {error}"));
                std::sync::Arc::new(validator)
            })
            .clone()
    }

    /// Panics unless `value` is a valid `schema` that carries no undeclared top-level field.
    #[track_caller]
    pub fn validate(&self, schema: &str, value: &Value) {
        let validator = self.validator(schema);
        let errors: Vec<String> = validator
            .iter_errors(value)
            .map(|error| format!("{} at {}", error, error.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "not a valid {schema}: {errors:#?}\n{value:#}"
        );
        if let Some(object) = value.as_object() {
            let declared = self.declared_properties(schema);
            let undeclared: Vec<&String> = object
                .keys()
                .filter(|key| !declared.contains(*key))
                .collect();
            assert!(
                undeclared.is_empty(),
                "{schema} does not declare {undeclared:?}\n{value:#}"
            );
        }
    }

    /// Whether `value` is a valid `schema` (for tests that a drifted body is caught).
    pub fn is_valid(&self, schema: &str, value: &Value) -> bool {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.validate(schema, value)
        }))
        .is_ok()
    }

    fn declared_properties(&self, schema: &str) -> HashSet<String> {
        let schemas = &self.components_of(schema)["schemas"];
        let mut declared = HashSet::new();
        let mut pending = vec![schemas[schema].clone()];
        while let Some(node) = pending.pop() {
            if let Some(properties) = node["properties"].as_object() {
                declared.extend(properties.keys().cloned());
            }
            if let Some(reference) = node["$ref"].as_str() {
                let name = reference.trim_start_matches("#/components/schemas/");
                pending.push(schemas[name].clone());
            }
            for combinator in ["allOf", "anyOf"] {
                if let Some(parts) = node[combinator].as_array() {
                    pending.extend(parts.iter().cloned());
                }
            }
        }
        declared
    }
}

/// The OpenAPI → JSON Schema adaptations described on [`SpecValidator`].
fn adapt(node: &mut Value) {
    match node {
        Value::Object(object) => {
            object.remove("$schema");
            if let Some(alternatives) = object.remove("oneOf") {
                object.insert("anyOf".to_owned(), alternatives);
            }
            object.values_mut().for_each(adapt);
        }
        Value::Array(items) => items.iter_mut().for_each(adapt),
        _ => {}
    }
}
