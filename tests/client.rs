//! The PingOne client over real HTTP against the emulator: tokens, CRUD, pagination, role
//! assignments, error typing, retries and propagation waits.

use crate::kit::client::{
    admin, admin_options, is_token_request, quick_retries, runtime, token_requests,
};
use crate::kit::{emulator_with, worker_body};
use p1run::client::{
    Application, Client, ClientError, ClientOptions, Credentials, Endpoints, Region, ScopeRef,
    ScopeType, TokenAuthMethod, TokenCache,
};
use p1run::emulator::EmulatorOptions;
use p1run::secret::Secret;
use serde_json::json;
use std::time::Duration;

async fn role_id(client: &Client, name: &str) -> String {
    let roles = client.roles().await.expect("roles");
    roles
        .into_iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("the built-in role {name:?} exists"))
        .id
}

#[test]
fn region_codes_parse_case_insensitively_and_unknown_ones_are_refused() {
    let region: Region = "eu".parse().unwrap();
    assert_eq!(
        Endpoints::for_region(region).api_url.as_str(),
        "https://api.pingone.eu/v1"
    );
    let au: Region = "AU".parse().unwrap();
    assert_eq!(
        Endpoints::for_region(au).auth_url.as_str(),
        "https://auth.pingone.com.au/"
    );
    let error = "mars".parse::<Region>().unwrap_err();
    assert!(matches!(error, ClientError::InvalidRegion(_)));
    assert!(
        error.to_string().contains("NA, EU, CA, AU, SG, AP"),
        "{error}"
    );
}

#[test]
fn plain_http_is_only_accepted_for_loopback_hosts() {
    Endpoints::new("http://localhost:9/v1", "http://127.0.0.1:9").unwrap();
    Endpoints::new("http://[::1]:9/v1", "http://[::1]:9").unwrap();
    let error =
        Endpoints::new("http://api.pingone.com/v1", "https://auth.pingone.com").unwrap_err();
    assert!(matches!(error, ClientError::InvalidEndpoint(_)));
    assert!(error.to_string().contains("loopback"), "{error}");
}

#[test]
fn a_basic_token_is_fetched_once_and_shared_by_clients_of_the_same_cache() {
    let emulator = emulator_with(EmulatorOptions::default());
    let options = admin_options(&emulator);
    let first = Client::new(options.clone()).unwrap();
    let second = Client::new(options.clone()).unwrap();
    runtime().block_on(async {
        first.roles().await.unwrap();
        first
            .applications(&emulator.info().environment_id)
            .await
            .unwrap();
        second.roles().await.unwrap();
    });
    assert_eq!(token_requests(&emulator), 1);
    assert_eq!(first.requests_sent(), 3, "one token request and two calls");

    // Another cache means other tokens.
    let mut separate = options;
    separate.tokens = TokenCache::default();
    let third = Client::new(separate).unwrap();
    runtime().block_on(third.roles()).unwrap();
    assert_eq!(token_requests(&emulator), 2);
}

#[test]
fn concurrent_calls_share_one_token_fetch() {
    let emulator = emulator_with(EmulatorOptions::default());
    let client = admin(&emulator);
    runtime().block_on(async {
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let client = client.clone();
            calls.spawn(async move { client.roles().await });
        }
        while let Some(result) = calls.join_next().await {
            result.unwrap().unwrap();
        }
    });
    assert_eq!(token_requests(&emulator), 1);
}

#[test]
fn a_rejected_cached_token_is_replaced_once() {
    let emulator = emulator_with(EmulatorOptions::default());
    let options = admin_options(&emulator);
    options.tokens.insert(
        &options.endpoints,
        &options.credentials,
        Secret::new("not-a-token-the-emulator-issued"),
        Duration::from_secs(3600),
    );
    let client = Client::new(options).unwrap();
    let roles = runtime().block_on(client.roles()).unwrap();
    assert!(!roles.is_empty());
    // The replacement is kept: a second call asks for no token.
    runtime().block_on(client.roles()).unwrap();
    let log: Vec<(String, u16)> = emulator
        .requests()
        .into_iter()
        .map(|r| {
            (
                if is_token_request(&r) {
                    "token".into()
                } else {
                    r.path
                },
                r.status,
            )
        })
        .collect();
    assert_eq!(
        log,
        [
            ("/v1/roles".to_owned(), 401),
            ("token".to_owned(), 200),
            ("/v1/roles".to_owned(), 200),
            ("/v1/roles".to_owned(), 200)
        ]
    );
}

#[test]
fn a_wrong_secret_is_a_clear_token_error_that_never_shows_the_secret() {
    let emulator = emulator_with(EmulatorOptions::default());
    let mut options = admin_options(&emulator);
    let wrong = "wrong-secret-6f1c2b8e9d";
    options.credentials.client_secret = Secret::new(wrong);
    let client = Client::new(options).unwrap();
    let error = runtime().block_on(client.roles()).unwrap_err();
    let env = &emulator.info().environment_id;
    match &error {
        ClientError::Token {
            status,
            error: code,
            ..
        } => {
            assert_eq!(*status, 401);
            assert_eq!(code, "invalid_client");
        }
        other => panic!("expected a token error, got {other:?}"),
    }
    let text = error.to_string();
    assert!(
        text.starts_with(&format!(
            "the token request to POST /{env}/as/token was refused: invalid_client: "
        )),
        "{text}"
    );
    assert!(text.contains("check client_id, the secret and the app's token endpoint auth method"));
    assert!(!text.contains(wrong) && !format!("{error:?}").contains(wrong));
    // A refusal is final: one token request, no retries, no management call.
    assert_eq!(emulator.requests().len(), 1);
}

#[test]
fn a_worker_switched_to_client_secret_post_gets_tokens_with_form_credentials() {
    let emulator = emulator_with(EmulatorOptions::default());
    let env = emulator.info().environment_id.clone();
    let admin = admin(&emulator);
    let rt = runtime();
    let (app, secret) = rt.block_on(async {
        let app = admin
            .create_application(&env, &worker_body("post-worker"))
            .await
            .unwrap();
        let environment_admin = role_id(&admin, "Environment Admin").await;
        let scope = ScopeRef {
            id: env.clone(),
            kind: ScopeType::Environment,
        };
        admin
            .create_role_assignment(&env, app.id(), &environment_admin, &scope)
            .await
            .unwrap();
        let mut current = admin.application(&env, app.id()).await.unwrap();
        current.set("tokenEndpointAuthMethod", json!("CLIENT_SECRET_POST"));
        let updated = admin.update_application(&env, &current).await.unwrap();
        assert_eq!(updated.token_endpoint_auth_method(), "CLIENT_SECRET_POST");
        let secret = admin.application_secret(&env, app.id()).await.unwrap();
        (app, secret)
    });
    let worker = |auth_method| {
        let mut options = admin_options(&emulator);
        options.credentials = Credentials {
            client_id: app.id().to_owned(),
            client_secret: secret.secret.clone(),
            environment_id: env.clone(),
            auth_method,
        };
        Client::new(options).unwrap()
    };

    let environment = rt
        .block_on(worker(TokenAuthMethod::ClientSecretPost).environment(&env))
        .unwrap();
    assert_eq!(environment.id, env);
    assert!(
        emulator.requests().iter().any(|r| is_token_request(r)
            && r.status == 200
            && r.caller.as_deref() == Some(app.id()))
    );

    // The method must match the app's: Basic is now refused.
    let error = rt
        .block_on(worker(TokenAuthMethod::ClientSecretBasic).environment(&env))
        .unwrap_err();
    assert!(
        matches!(&error, ClientError::Token { error, .. } if error == "invalid_client"),
        "{error:?}"
    );
}

#[test]
fn applications_are_created_listed_across_pages_replaced_and_deleted() {
    let emulator = emulator_with(EmulatorOptions::default());
    let env = emulator.info().environment_id.clone();
    let mut options = admin_options(&emulator);
    options.page_size = Some(2);
    let client = Client::new(options).unwrap();
    runtime().block_on(async {
        let mut created = Vec::new();
        for n in 0..5 {
            let app = client
                .create_application(&env, &worker_body(&format!("paged-{n}")))
                .await
                .unwrap();
            assert_eq!(app.name(), format!("paged-{n}"));
            assert_eq!(app.kind(), "WORKER");
            created.push(app.id().to_owned());
        }
        let listed: Vec<String> = client
            .applications(&env)
            .await
            .unwrap()
            .iter()
            .map(|a| a.id().to_owned())
            .collect();
        for id in &created {
            assert!(listed.contains(id), "{id} missing from {listed:?}");
        }
        let list_path = format!("/v1/environments/{env}/applications");
        let pages = emulator
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path == list_path)
            .count();
        assert!(
            pages >= 3,
            "5+ applications in pages of 2 need 3+ pages, got {pages}"
        );

        // PUT is a full replace: fields the client does not model go back unchanged.
        let before = client.application(&env, &created[0]).await.unwrap();
        let mut changed: Application = before.clone();
        changed.set("description", json!("replaced"));
        changed.set("enabled", json!(false));
        let after = client.update_application(&env, &changed).await.unwrap();
        assert_eq!(after.description(), "replaced");
        assert!(!after.enabled());
        let reread = client.application(&env, &created[0]).await.unwrap();
        for field in [
            "grantTypes",
            "protocol",
            "type",
            "name",
            "tokenEndpointAuthMethod",
        ] {
            assert_eq!(reread.0.get(field), before.0.get(field), "{field}");
        }

        client.delete_application(&env, &created[0]).await.unwrap();
        let error = client.application(&env, &created[0]).await.unwrap_err();
        let api = error.api().expect("an API error");
        assert_eq!(api.status, 404);
        assert_eq!(api.code.as_deref(), Some("NOT_FOUND"));
        assert_eq!(api.method, "GET");
        assert_eq!(
            api.path,
            format!("/v1/environments/{env}/applications/{}", created[0])
        );
    });
}

#[test]
fn role_assignments_are_created_listed_refused_as_duplicates_and_deleted() {
    let emulator = emulator_with(EmulatorOptions::default());
    let env = emulator.info().environment_id.clone();
    let client = admin(&emulator);
    runtime().block_on(async {
        let app = client
            .create_application(&env, &worker_body("granted"))
            .await
            .unwrap();
        let identity_data_admin = role_id(&client, "Identity Data Admin").await;
        let scope = ScopeRef {
            id: env.clone(),
            kind: ScopeType::Environment,
        };
        let assignment = client
            .create_role_assignment(&env, app.id(), &identity_data_admin, &scope)
            .await
            .unwrap();
        assert_eq!(assignment.role.id, identity_data_admin);
        assert_eq!(assignment.scope, scope);

        let listed = client.role_assignments(&env, app.id()).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, assignment.id);

        let error = client
            .create_role_assignment(&env, app.id(), &identity_data_admin, &scope)
            .await
            .unwrap_err();
        let api = error.api().expect("an API error").clone();
        assert_eq!(api.status, 400);
        assert_eq!(api.code.as_deref(), Some("INVALID_DATA"));
        assert_eq!(api.details[0].code.as_deref(), Some("UNIQUENESS_VIOLATION"));
        assert_eq!(api.details[0].target.as_deref(), Some("role"));
        let text = error.to_string();
        let path = format!(
            "/v1/environments/{env}/applications/{}/roleAssignments",
            app.id()
        );
        assert!(
            text.starts_with(&format!("POST {path} → 400 INVALID_DATA: ")),
            "{text}"
        );
        assert!(
            text.contains("\n  - UNIQUENESS_VIOLATION (target role): "),
            "{text}"
        );

        client
            .delete_role_assignment(&env, app.id(), &assignment.id)
            .await
            .unwrap();
        assert!(
            client
                .role_assignments(&env, app.id())
                .await
                .unwrap()
                .is_empty()
        );
    });
}

#[test]
fn random_server_faults_are_retried_until_the_calls_succeed() {
    let emulator = emulator_with(EmulatorOptions {
        fault_rate: 0.3,
        seed: Some(7),
        ..Default::default()
    });
    let env = emulator.info().environment_id.clone();
    let client = admin(&emulator);
    runtime().block_on(async {
        for n in 0..6 {
            let name = format!("faulty-{n}");
            let body = worker_body(&name);
            // A POST is not retried blindly on a 5xx: `write_once` first looks for what it
            // would have made.
            let landed = || async {
                let listed = client.applications(&env).await?;
                Ok(listed.into_iter().find(|app| app.name() == name))
            };
            let app = p1run::client::write_once(|| client.create_application(&env, &body), landed)
                .await
                .unwrap();
            client.application(&env, app.id()).await.unwrap();
            client.roles().await.unwrap();
        }
        let names: Vec<String> = client
            .applications(&env)
            .await
            .unwrap()
            .iter()
            .map(|a| a.name().to_owned())
            .collect();
        for n in 0..6 {
            assert_eq!(
                names
                    .iter()
                    .filter(|name| **name == format!("faulty-{n}"))
                    .count(),
                1,
                "{names:?}"
            );
        }
    });
    let log = emulator.requests();
    let fault = log
        .iter()
        .position(|r| r.status >= 500)
        .expect("a fault rate of 0.3 over 18+ calls injects a fault");
    let faulted = &log[fault];
    assert!(
        log[fault + 1..]
            .iter()
            .any(|r| r.method == faulted.method && r.path == faulted.path && r.status < 300),
        "{faulted:?} was not retried to success"
    );
}

#[test]
fn rate_limiting_is_waited_out_as_retry_after_says() {
    let emulator = emulator_with(EmulatorOptions {
        rate_limit: Some(2),
        ..Default::default()
    });
    let client = admin(&emulator);
    runtime().block_on(async {
        for _ in 0..8 {
            client.roles().await.unwrap();
        }
    });
    assert!(
        emulator.requests().iter().any(|r| r.status == 429),
        "2 requests per second must have been exceeded"
    );
}

#[test]
fn a_fault_storm_ends_in_a_deadline_error_with_the_last_failure() {
    let emulator = emulator_with(EmulatorOptions {
        fault_rate: 1.0,
        seed: Some(1),
        ..Default::default()
    });
    let mut options = admin_options(&emulator);
    options.retry.deadline = Duration::from_secs(1);
    // The emulator's 503s say `Retry-After: 1`; the cap keeps waits short enough for several
    // attempts within the deadline.
    options.retry.max_delay = Duration::from_millis(50);
    let client = Client::new(options).unwrap();
    let error = runtime().block_on(client.roles()).unwrap_err();
    match &error {
        ClientError::DeadlineExceeded {
            method,
            path,
            attempts,
            last,
            ..
        } => {
            assert_eq!((method.as_str(), path.as_str()), ("GET", "/v1/roles"));
            assert!(*attempts > 1);
            let status = last.api().expect("the last PingOne error").status;
            assert!(matches!(status, 500 | 502 | 503), "{status}");
        }
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
    let text = error.to_string();
    assert!(text.contains("gave up on GET /v1/roles after"), "{text}");
    assert!(text.contains("GET /v1/roles → 50"), "{text}");
}

#[test]
fn an_unreachable_host_is_a_transport_error() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut options = ClientOptions::new(
        Endpoints::new(
            &format!("http://127.0.0.1:{port}/v1"),
            &format!("http://127.0.0.1:{port}"),
        )
        .unwrap(),
        Credentials {
            client_id: "c".into(),
            client_secret: Secret::new("s"),
            environment_id: "e".into(),
            auth_method: TokenAuthMethod::ClientSecretBasic,
        },
    );
    options.retry = quick_retries();
    // Short, but with room for the four connection attempts on a busy machine.
    options.retry.deadline = Duration::from_secs(5);
    let client = Client::new(options).unwrap();
    let error = runtime().block_on(client.roles()).unwrap_err();
    assert!(
        matches!(&error, ClientError::Transport { method, path, .. } if method == "POST" && path == "/e/as/token"),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.starts_with(&format!(
            "could not reach http://127.0.0.1:{port} for POST /e/as/token"
        )),
        "{text}"
    );
    assert!(
        client.requests_sent() > 1,
        "connection failures are retried"
    );
}

#[test]
fn a_new_application_is_waited_for_but_a_foreign_404_fails_at_once() {
    let emulator = emulator_with(EmulatorOptions {
        // Long enough that the grant is surely tried before the app is visible, even on a
        // busy machine; the client's window (10 s) outlasts it.
        propagation_delay: Duration::from_secs(1),
        ..Default::default()
    });
    let env = emulator.info().environment_id.clone();
    let client = admin(&emulator);
    runtime().block_on(async {
        let identity_data_admin = role_id(&client, "Identity Data Admin").await;
        let app = client
            .create_application(&env, &worker_body("fresh"))
            .await
            .unwrap();
        let scope = ScopeRef {
            id: env.clone(),
            kind: ScopeType::Environment,
        };
        client
            .create_role_assignment(&env, app.id(), &identity_data_admin, &scope)
            .await
            .expect("the bounded wait rides out the new application's 404");
        let grant_path = format!(
            "/v1/environments/{env}/applications/{}/roleAssignments",
            app.id()
        );
        let statuses: Vec<u16> = emulator
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == grant_path)
            .map(|r| r.status)
            .collect();
        assert_eq!(
            statuses.first(),
            Some(&404),
            "the grant was tried before the app was visible"
        );
        assert_eq!(statuses.last(), Some(&201));

        let unknown = "00000000-0000-0000-0000-000000000000";
        let error = client.application(&env, unknown).await.unwrap_err();
        assert_eq!(error.api().map(|e| e.status), Some(404));
        let unknown_path = format!("/v1/environments/{env}/applications/{unknown}");
        let tries = emulator
            .requests()
            .iter()
            .filter(|r| r.path == unknown_path)
            .count();
        assert_eq!(
            tries, 1,
            "a 404 for an application this client did not create is final"
        );
    });
}

#[test]
fn a_genuine_permission_error_fails_at_once_with_a_hint() {
    let emulator = emulator_with(EmulatorOptions::default());
    let env = emulator.info().environment_id.clone();
    let admin = admin(&emulator);
    let rt = runtime();
    let (app, secret) = rt.block_on(async {
        let app = admin
            .create_application(&env, &worker_body("roleless"))
            .await
            .unwrap();
        let secret = admin.application_secret(&env, app.id()).await.unwrap();
        (app, secret)
    });
    let mut options = admin_options(&emulator);
    options.credentials.client_id = app.id().to_owned();
    options.credentials.client_secret = secret.secret;
    let worker = Client::new(options).unwrap();
    let error = rt.block_on(worker.applications(&env)).unwrap_err();
    let api = error.api().expect("an API error");
    assert_eq!(api.status, 403);
    assert!(
        error.to_string().contains("hint: the worker lacks a role"),
        "{error}"
    );
    let calls = emulator
        .requests()
        .iter()
        .filter(|r| r.caller.as_deref() == Some(app.id()) && !is_token_request(r))
        .count();
    assert_eq!(
        calls, 1,
        "a worker without writes of its own does not wait out a 403"
    );
}

// Custom admin roles and populations, the calls the `custom_role` and `population`
// primitives are built on.

use p1run::client::{CustomRoleDefinition, RoleType, outcome_unknown, write_once};

/// Environment Admin's and Identity Data Admin's permission ids as the environment's role list
/// gives them: the Authorize worker's "custom role with equivalent permissions".
async fn authorize_worker_definition(
    client: &Client,
    env: &str,
    name: &str,
) -> CustomRoleDefinition {
    let roles = client.custom_roles(env).await.unwrap();
    let mut permissions: Vec<String> = Vec::new();
    for wanted in ["Environment Admin", "Identity Data Admin"] {
        let role = roles.iter().find(|role| role.name == wanted).unwrap();
        assert_eq!(role.kind, Some(RoleType::Platform));
        for id in role.permission_ids() {
            if !permissions.iter().any(|held| held == id) {
                permissions.push(id.to_owned());
            }
        }
    }
    CustomRoleDefinition {
        name: name.to_owned(),
        description: Some("made by a client test".to_owned()),
        applicable_to: vec![ScopeType::Environment],
        permissions,
        can_be_assigned_by: vec![role_id(client, "Environment Admin").await],
    }
}

#[test]
fn custom_roles_are_listed_with_the_built_in_ones_created_found_updated_and_deleted() {
    let emulator = emulator_with(EmulatorOptions::default());
    let env = emulator.info().environment_id.clone();
    let client = admin(&emulator);
    runtime().block_on(async {
        let before = client.custom_roles(&env).await.unwrap();
        assert_eq!(before.len(), 19);
        assert!(
            before
                .iter()
                .all(|role| !role.is_custom() && !role.permissions.is_empty())
        );
        let env_admin = role_id(&client, "Environment Admin").await;
        let built_in = client.role(&env_admin).await.unwrap();
        let listed = before.iter().find(|role| role.id == env_admin).unwrap();
        assert_eq!(built_in.permission_ids(), listed.permission_ids());

        let definition = authorize_worker_definition(&client, &env, "Worker Role").await;
        let made = client.create_custom_role(&env, &definition).await.unwrap();
        assert!(made.is_custom());
        assert_eq!(
            made.environment.as_ref().map(|e| e.id.as_str()),
            Some(env.as_str())
        );
        assert!(definition.matches(&made), "{made:?}");
        // The body sent is a valid `CustomAdminRole` of the spec.
        let sent = emulator
            .requests()
            .into_iter()
            .rev()
            .find(|r| r.method == "POST" && r.path.ends_with("/roles"))
            .and_then(|r| r.body)
            .unwrap();
        crate::kit::spec().validate("CustomAdminRole", &sent);

        let found = client.custom_role_named(&env, "Worker Role").await.unwrap();
        assert_eq!(found.as_ref(), Some(&made));
        assert_eq!(client.custom_role(&env, &made.id).await.unwrap(), made);
        assert_eq!(
            client
                .custom_role_named(&env, "Environment Admin")
                .await
                .unwrap(),
            None
        );

        let mut narrower = definition.clone();
        narrower.permissions.truncate(2);
        assert!(!narrower.matches(&made));
        let updated = client
            .update_custom_role(&env, &made.id, &narrower)
            .await
            .unwrap();
        assert!(narrower.matches(&updated));
        assert_eq!(updated.permissions.len(), 2);

        // A second role of the same name is refused, typed.
        let error = client
            .create_custom_role(&env, &narrower)
            .await
            .unwrap_err();
        let api = error.api().expect("an API error");
        assert_eq!(api.status, 400);
        assert!(api.has_detail_code("UNIQUENESS_VIOLATION"), "{error}");

        client.delete_custom_role(&env, &made.id).await.unwrap();
        assert_eq!(
            client.custom_role_named(&env, "Worker Role").await.unwrap(),
            None
        );
        let gone = client.custom_role(&env, &made.id).await.unwrap_err();
        assert_eq!(gone.status(), Some(404));
    });
}

#[test]
fn a_custom_role_whose_answer_was_lost_is_found_and_not_made_twice() {
    let emulator = emulator_with(EmulatorOptions {
        lost_answer_rate: 1.0,
        seed: Some(3),
        ..Default::default()
    });
    let env = emulator.info().environment_id.clone();
    let client = admin(&emulator);
    runtime().block_on(async {
        let definition = authorize_worker_definition(&client, &env, "Lost Answer Role").await;
        // Every successful POST answers 502: the write happened, the answer says otherwise.
        let lost = client
            .create_custom_role(&env, &definition)
            .await
            .unwrap_err();
        assert!(outcome_unknown(&lost), "{lost}");
        let mut again = definition.clone();
        again.name = "Checked Role".to_owned();
        let made = write_once(
            || client.create_custom_role(&env, &again),
            || client.custom_role_named(&env, "Checked Role"),
        )
        .await
        .unwrap();
        assert!(again.matches(&made));
        let posts = emulator
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/roles"))
            .count();
        assert_eq!(posts, 2, "one POST per role, never re-sent");
        let custom: Vec<String> = client
            .custom_roles(&env)
            .await
            .unwrap()
            .into_iter()
            .filter(|role| role.is_custom())
            .map(|role| role.name)
            .collect();
        assert_eq!(custom, ["Lost Answer Role", "Checked Role"]);
    });
}

#[test]
fn populations_are_listed_created_found_and_usable_as_scopes() {
    let emulator = emulator_with(EmulatorOptions::default());
    let env = emulator.info().environment_id.clone();
    let client = admin(&emulator);
    runtime().block_on(async {
        let seeded = client.populations(&env).await.unwrap();
        assert_eq!(seeded.len(), 1);
        assert!(seeded[0].default);
        let staff = client
            .create_population(&env, "Staff", Some("the staff"))
            .await
            .unwrap();
        assert_eq!(staff.name, "Staff");
        assert_eq!(staff.description.as_deref(), Some("the staff"));
        assert!(!staff.default);
        assert_eq!(client.population(&env, &staff.id).await.unwrap(), staff);
        assert_eq!(
            client.population_named(&env, "Staff").await.unwrap(),
            Some(staff.clone())
        );
        assert_eq!(client.population_named(&env, "Nobody").await.unwrap(), None);
        let duplicate = client
            .create_population(&env, "Staff", None)
            .await
            .unwrap_err();
        assert!(
            duplicate
                .api()
                .is_some_and(|api| api.has_detail_code("UNIQUENESS_VIOLATION")),
            "{duplicate}"
        );

        let app = client
            .create_application(&env, &worker_body("population-scoped"))
            .await
            .unwrap();
        let scope = ScopeRef {
            id: staff.id.clone(),
            kind: ScopeType::Population,
        };
        let ida = role_id(&client, "Identity Data Admin").await;
        let assignment = client
            .create_role_assignment(&env, app.id(), &ida, &scope)
            .await
            .unwrap();
        assert_eq!(assignment.scope, scope);
        // A list of more pages than one comes whole.
        for n in 0..4 {
            client
                .create_population(&env, &format!("Team {n}"), None)
                .await
                .unwrap();
        }
        let mut paged = admin_options(&emulator);
        paged.page_size = Some(2);
        let paged = Client::new(paged).unwrap();
        assert_eq!(paged.populations(&env).await.unwrap().len(), 6);
        assert_eq!(paged.custom_roles(&env).await.unwrap().len(), 19);
    });
}
