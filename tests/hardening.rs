//! Hostile ground: proxies, missing CA stores, untrusted certificates, compressed answers,
//! config typos, no config, careless secret files, escaping imports, request floods and
//! interrupted state saves. Each test runs the real binary or real HTTP.

use crate::kit::{self, SECRET_VAR, Test};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A loopback listener that counts the connections made to it and keeps the first line each
/// one sent (a proxy sees `CONNECT host:443 …` or `GET http://…`). It answers nothing: any
/// connection to it is what the test is about.
struct Recorder {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    first_lines: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let connections = Arc::new(AtomicUsize::new(0));
        let first_lines = Arc::new(Mutex::new(Vec::new()));
        let (count, lines) = (connections.clone(), first_lines.clone());
        // Detached: it blocks in accept until the test binary exits.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut line = String::new();
                let _ = BufReader::new(&stream).read_line(&mut line);
                lines.lock().unwrap().push(line.trim_end().to_owned());
            }
        });
        Self {
            addr,
            connections,
            first_lines,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A TLS server on loopback with a self-signed certificate made here, which no CA store
/// trusts; counts the connections (each one a handshake attempt).
fn untrusted_tls_listener() -> (SocketAddr, Arc<AtomicUsize>) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("a throwaway certificate");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(signing_key.serialize_der().into()),
        )
        .expect("a server config");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let Ok(server) = rustls::ServerConnection::new(config.clone()) else {
                continue;
            };
            // Runs the handshake until the client gives up on the certificate.
            let mut tls = rustls::StreamOwned::new(server, stream);
            let _ = tls.read(&mut [0u8; 1]);
        }
    });
    (addr, connections)
}

/// A config whose one environment `remote` talks to `base` (api at `{base}/v1`).
fn config_at(base: &str) -> String {
    format!(
        "[environments.remote]\nenvironment_id = \"e1\"\nclient_id = \"c1\"\n\
         client_secret_env = \"{SECRET_VAR}\"\napi_url = \"{base}/v1\"\nauth_url = \"{base}\"\n\n\
         [retry]\ndeadline_ms = 3000\ninitial_delay_ms = 10\n"
    )
}

/// Every proxy variable, all naming the recorder.
fn with_proxies(test: Test, proxy: &Recorder) -> Test {
    let url = proxy.url();
    [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .into_iter()
    .fold(test, |test, name| test.env(name, &url))
    .env("NO_PROXY", "")
    .env("no_proxy", "")
}

// Case 1: the worker's credentials to a loopback target never reach a proxy.
#[test]
fn loopback_targets_never_go_through_a_proxy() {
    let proxy = Recorder::start();
    with_proxies(Test::new(), &proxy)
        .args(["apply", "authorize-worker", "-v"])
        .run()
        .success();
    let emulator = kit::emulator(1);
    with_proxies(Test::new(), &proxy)
        .config_for(&emulator)
        .args(["apply", "authorize-worker", "--env", "env-1"])
        .run()
        .success();
    assert_eq!(proxy.connections(), 0, "{:?}", proxy.first_lines);
}

// Case 1: an https target honours HTTPS_PROXY, and -v says so.
#[test]
fn https_targets_use_the_environments_proxy_and_say_so() {
    let proxy = Recorder::start();
    let out = Test::new()
        .file("p1run.toml", &config_at("https://pingone.example.test"))
        .env(SECRET_VAR, "s3cret-value")
        .env("HTTPS_PROXY", &proxy.url())
        .env("NO_PROXY", "other.example.test")
        .args(["plan", "authorize-worker", "-v"])
        .run()
        .failure();
    let lines = proxy.first_lines.lock().unwrap().clone();
    assert!(
        lines
            .first()
            .is_some_and(|line| line.starts_with("CONNECT pingone.example.test:443")),
        "{lines:?}"
    );
    assert!(
        out.stderr.contains("through a proxy") && out.stderr.contains(&proxy.url()),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("s3cret-value"));
}

// Case 2: no CA store matters only for https targets, and then says what to do.
#[test]
fn a_missing_ca_store_only_matters_for_https() {
    let no_store = |test: Test| {
        let empty = test.path().join("empty.pem");
        std::fs::write(&empty, "").expect("empty bundle");
        let empty = empty.display().to_string();
        test.env("SSL_CERT_DIR", "/nonexistent")
            .env("SSL_CERT_FILE", &empty)
    };
    no_store(Test::new())
        .args(["apply", "authorize-worker"])
        .run()
        .success();
    let test = Test::new()
        .file("p1run.toml", &config_at("https://127.0.0.1:9"))
        .env(SECRET_VAR, "s");
    no_store(test)
        .args(["plan", "authorize-worker"])
        .run()
        .failure()
        .stderr_has(&[
            "https://127.0.0.1:9",
            "CA certificates",
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
        ]);
}

// Case 3: an untrusted certificate is one handshake, a clear error and no library noise.
#[test]
fn an_untrusted_certificate_is_not_retried_and_says_how_to_trust_a_ca() {
    let (addr, handshakes) = untrusted_tls_listener();
    let out = Test::new()
        .file("p1run.toml", &config_at(&format!("https://{addr}")))
        .env(SECRET_VAR, "s3cret-value")
        .args(["apply", "authorize-worker"])
        .run()
        .failure()
        .stderr_has(&["certificate", "not trusted", "SSL_CERT_FILE"]);
    assert_eq!(handshakes.load(Ordering::SeqCst), 1, "{}", out.stderr);
    assert!(
        !out.stderr.contains("ERROR") && !out.stderr.contains("rustls"),
        "library log lines without -v:\n{}",
        out.stderr
    );
}

/// A one-shot HTTP server answering each request (one per connection) with a gzip body:
/// the token endpoint with a token, anything else with an empty roles list.
fn gzip_server() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    use flate2::{Compression, write::GzEncoder};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let head = read_head(&stream);
            let body = if head.starts_with("POST") {
                r#"{"access_token":"tok","token_type":"Bearer","expires_in":3600}"#
            } else {
                r#"{"_embedded":{"roles":[{"id":"r1","name":"Identity Data Admin"}]},"count":1,"size":1}"#
            };
            record.lock().unwrap().push(head);
            let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
            gzip.write_all(body.as_bytes()).expect("compress");
            let body = gzip.finish().expect("compress");
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    (addr, seen)
}

/// The request line and headers of one request (its small body, if any, is left unread).
fn read_head(stream: &TcpStream) -> String {
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => head.push_str(&line),
        }
    }
    head
}

// Case 10: gzip-compressed answers are read.
#[test]
fn gzip_answers_are_decoded() {
    use p1run::client::{Client, ClientOptions, Credentials, Endpoints, TokenAuthMethod};
    let (addr, seen) = gzip_server();
    let base = format!("http://{addr}");
    let client = Client::new(ClientOptions::new(
        Endpoints::new(&format!("{base}/v1"), &base).expect("loopback endpoints"),
        Credentials {
            client_id: "c".into(),
            client_secret: p1run::secret::Secret::new("s"),
            environment_id: "e".into(),
            auth_method: TokenAuthMethod::ClientSecretBasic,
        },
    ))
    .expect("a client");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let roles = runtime
        .block_on(client.roles())
        .expect("gzip answers decode");
    assert_eq!(roles.len(), 1);
    assert_eq!(roles[0].name, "Identity Data Admin");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen.iter()
            .all(|head| head.to_ascii_lowercase().contains("accept-encoding: gzip")),
        "{seen:?}"
    );
}

// Case 4: a mistyped config key stops the run, naming file, line, key and the key meant.
#[test]
fn a_config_typo_is_an_error_with_the_key_meant() {
    let emulator = kit::emulator(1);
    let config = kit::config_text(&emulator).replacen(
        "region = \"NA\"\n",
        "region = \"NA\"\ntoken_auth_metod = \"CLIENT_SECRET_POST\"\n",
        1,
    );
    let out = Test::new()
        .file("p1run.toml", &config)
        .env(SECRET_VAR, &emulator.info().client_secret)
        .args(["apply", "authorize-worker"])
        .run()
        .failure()
        .stderr_has(&[
            "config p1run.toml: line 4, column 1: unknown key `token_auth_metod` in \
             [environments.env-1]; did you mean `token_auth_method`?",
        ]);
    assert!(!out.stderr.contains(&emulator.info().client_secret));
    assert_eq!(emulator.requests().len(), 0, "nothing was sent");
}

// Case 5: no config means the throwaway emulator, said on stderr and in the JSON output.
#[test]
fn running_without_a_config_says_so() {
    for (command, code) in [("plan", 2), ("apply", 0)] {
        let out = Test::new()
            .args([command, "authorize-worker", "--output", "json"])
            .run()
            .status(code)
            .stderr_has(&[
                "no config file found",
                "in-process PingOne emulator",
                "nothing in PingOne is changed",
            ]);
        assert_eq!(out.json()["target"], "emulator", "{command}");
        assert_eq!(out.json()["environment"], "local", "{command}");
    }
    Test::new()
        .args(["apply", "authorize-worker"])
        .run()
        .success()
        .stderr_has(&["no config file found"]);

    let emulator = kit::emulator(2);
    let out = Test::new()
        .config_for(&emulator)
        .args([
            "plan",
            "authorize-worker",
            "--env",
            "env-1",
            "--output",
            "json",
        ])
        .run()
        .status(2);
    assert_eq!(out.json()["target"], "pingone");
    assert!(!out.stderr.contains("emulator"), "{}", out.stderr);
    let out = Test::new()
        .config_for(&emulator)
        .args(["plan", "authorize-worker", "--all", "--output", "json"])
        .run()
        .status(2);
    let fleet = out.json();
    assert_eq!(fleet["target"], "pingone");
    assert!(
        fleet["environments"].as_array().is_some_and(
            |envs| envs.len() == 2 && envs.iter().all(|env| env["target"] == "pingone")
        ),
        "{fleet}"
    );
}

/// A config whose environment `env-1` reads the bootstrap worker's secret from `secret.txt`.
fn secret_file_config(emulator: &p1run::emulator::Emulator) -> String {
    kit::config_text(emulator).replace(
        &format!("client_secret_env = \"{SECRET_VAR}\""),
        "client_secret_file = \"secret.txt\"",
    )
}

/// Sets a file's permission bits.
fn chmod(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

// Case 6: an empty secret file is refused before anything is sent.
#[test]
fn an_empty_secret_file_is_refused_like_an_empty_variable() {
    let emulator = kit::emulator(1);
    let test = Test::new()
        .file("p1run.toml", &secret_file_config(&emulator))
        .file("secret.txt", "\n");
    chmod(&test.path().join("secret.txt"), 0o600);
    test.args(["apply", "authorize-worker"])
        .run()
        .failure()
        .stderr_has(&["[environments.env-1]", "secret.txt", "which is empty"]);
    assert_eq!(emulator.requests().len(), 0, "nothing was sent");
}

// Case 6: a secret file others can read is used, with a warning that says how to fix it.
#[test]
fn a_secret_file_others_can_read_is_warned_about() {
    let emulator = kit::emulator(1);
    let secret = emulator.info().client_secret.clone();
    for (mode, warned) in [(0o644, true), (0o640, true), (0o600, false)] {
        let test = Test::new()
            .file("p1run.toml", &secret_file_config(&emulator))
            .file("secret.txt", &secret);
        chmod(&test.path().join("secret.txt"), mode);
        let out = test.args(["plan", "authorize-worker"]).run().status(2);
        assert_eq!(
            out.stderr.contains("chmod 600"),
            warned,
            "mode {mode:o}:\n{}",
            out.stderr
        );
        assert!(!out.stderr.contains(&secret));
    }
}

// Case 7: a symlink beside the script cannot import a file from outside its folder, and shows
// none of its lines.
#[test]
fn imports_do_not_follow_links_out_of_the_script_folder() {
    let test = Test::new()
        .file(
            "outside/private.rhai",
            "let leaked = \"PRIVATE-LINE\"; this is not rhai\n",
        )
        .file("recipes/escape.rhai", "import \"private\" as p;\n");
    let root = test.path().to_owned();
    std::os::unix::fs::symlink(
        root.join("outside/private.rhai"),
        root.join("recipes/private.rhai"),
    )
    .expect("symlink");
    let out = test
        .args(["plan", "recipes/escape.rhai"])
        .run()
        .failure()
        .stderr_has(&[
            "recipes/escape.rhai:1:",
            "cannot import \"private\"",
            "outside the script's folder",
        ]);
    assert!(!out.stderr.contains("PRIVATE-LINE"), "{}", out.stderr);
    // A link that stays inside the folder is fine.
    let inside = Test::new()
        .file("recipes/real.rhai", "fn name() { \"linked-worker\" }\n")
        .file(
            "recipes/inside.rhai",
            "import \"alias\" as a;\nlet n = a::name();\n",
        );
    std::os::unix::fs::symlink("real.rhai", inside.path().join("recipes/alias.rhai"))
        .expect("symlink");
    inside.args(["plan", "recipes/inside.rhai"]).run().success();
}

// Case 7: invalid UTF-8 is reported with the byte offset, for a script and for a module.
#[test]
fn invalid_utf8_is_reported_with_its_byte_offset() {
    let test = Test::new();
    std::fs::write(
        test.path().join("bad.rhai"),
        b"let x = 1;\nlet y = \"\xff\";\n",
    )
    .expect("write");
    test.args(["plan", "bad.rhai"])
        .run()
        .failure()
        .stderr_has(&["bad.rhai: not UTF-8 text: invalid byte at offset 20 (line 2)"]);
    let test = Test::new().file("main.rhai", "import \"module\" as m;\n");
    std::fs::write(test.path().join("module.rhai"), b"\xc3\x28").expect("write");
    test.args(["plan", "main.rhai"])
        .run()
        .failure()
        .stderr_has(&[
            "main.rhai:1:",
            "cannot import \"module\"",
            "not UTF-8 text: invalid byte at offset 0 (line 1)",
        ]);
}

// Case 8: the request log keeps no body anyone could send without a token, and holds its
// byte bound.
#[test]
fn the_request_log_keeps_only_authenticated_bodies_within_its_byte_bound() {
    use crate::kit::Harness;
    use p1run::emulator::EmulatorOptions;
    use serde_json::json;
    const BOUND: usize = 64 * 1024;
    let h = Harness::with_options(EmulatorOptions {
        request_log_bytes: BOUND,
        ..EmulatorOptions::default()
    });
    let flood = json!({ "name": "x", "padding": "UNAUTHENTICATED-".repeat(1000) });
    for token in ["", "not-a-token"] {
        let reply = h.post(&h.apps(""), token, &flood);
        assert_eq!(reply.status, 401, "{}", reply.text);
    }
    // Authenticated, and refused (no type): kept with its body.
    let kept = json!({ "name": "kept", "marker": "AUTHENTICATED" });
    assert_eq!(h.post(&h.apps(""), &h.admin, &kept).status, 400);
    let log = h.emulator.requests();
    let refused: Vec<_> = log.iter().filter(|r| r.status == 401).collect();
    assert_eq!(
        refused.len(),
        2,
        "unauthenticated requests are still listed"
    );
    assert!(refused.iter().all(|r| r.body.is_none()), "{refused:?}");
    assert_eq!(log.last().and_then(|r| r.body.clone()), Some(kept));

    // 8 KiB bodies, authenticated: past 64 KiB the oldest entries go.
    for i in 0..40 {
        let body = json!({ "name": format!("big-{i}"), "padding": "b".repeat(8 * 1024) });
        assert_eq!(h.post(&h.apps(""), &h.admin, &body).status, 400);
    }
    let served = h.http.request(
        "GET",
        &format!("{}/_emulator/requests", h.info().auth_url),
        None,
        None,
    );
    assert_eq!(served.status, 200);
    assert!(
        served.text.len() <= BOUND + 2,
        "{} bytes",
        served.text.len()
    );
    let log = h.emulator.requests();
    assert!(log.len() < 40, "old entries were dropped: {}", log.len());
    assert_eq!(
        log.last()
            .and_then(|r| r.body.as_ref())
            .map(|b| b["name"].clone()),
        Some(json!("big-39"))
    );
}

/// A state file made by an emulator that then stopped.
fn saved_state(dir: &std::path::Path) -> std::path::PathBuf {
    use p1run::emulator::{Emulator, EmulatorOptions};
    let path = dir.join("state.json");
    drop(
        Emulator::start(EmulatorOptions {
            state_file: Some(path.clone()),
            ..EmulatorOptions::default()
        })
        .expect("the emulator starts"),
    );
    path
}

fn mode_of(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

fn names_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

// Case 9: a save interrupted before its rename (kill -9) leaves a temporary file; the next
// start removes it, saves leave none, and the state file stays 0600.
#[test]
fn state_saves_leave_no_temporary_files_and_stay_private() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().expect("temp dir");
    let state = saved_state(dir.path());
    assert_eq!(mode_of(&state), 0o600);
    let stale = dir.path().join(".state.json.p1run-tmp-Ab12Cd");
    std::fs::write(&stale, "{\"a whole state\": \"with secrets\"}").expect("stale temp");
    let unrelated = dir.path().join(".notes.p1run-tmp-keep");
    std::fs::write(&unrelated, "someone else's").expect("unrelated");
    chmod(&state, 0o644);

    let mut child = Command::new(kit::P1RUN)
        .args(["emulator", "--listen", "127.0.0.1:0", "--state"])
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("p1run emulator");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the info line");
    let info: p1run::emulator::EmulatorInfo =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert!(
        !stale.exists(),
        "the stale temporary file was removed at start"
    );
    assert_eq!(mode_of(&state), 0o600, "a state file holds secrets");
    // A write, so a save.
    Test::new()
        .file("p1run.toml", &kit::config_text_for(&info))
        .env(SECRET_VAR, &info.client_secret)
        .args(["apply", "authorize-worker", "--env", "env-1"])
        .run()
        .success();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        names_in(dir.path()),
        [".notes.p1run-tmp-keep", "state.json"],
        "only the state file (and the unrelated file) remain"
    );
    assert_eq!(mode_of(&state), 0o600);
}

// Case 9: a state file whose assignments name unknown role ids is refused at start, naming the
// file and the id, instead of answering 403 to everything afterwards.
#[test]
fn a_state_file_with_an_unknown_role_id_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = saved_state(dir.path());
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).expect("read")).expect("JSON");
    let bootstrap = json["bootstrap_client_id"].as_str().expect("id").to_owned();
    json["applications"][&bootstrap]["role_assignments"][0]["role_id"] =
        "00000000-0000-4000-8000-000000000000".into();
    std::fs::write(&state, json.to_string()).expect("write");
    let mut child = std::process::Command::new(kit::P1RUN)
        .args(["emulator", "--listen", "127.0.0.1:0", "--state"])
        .arg(&state)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("p1run emulator");
    // Serving would print the info line; refusing closes stdout at exit.
    let mut line = String::new();
    let _ = BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line);
    if !line.is_empty() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the emulator served the broken state: {line}");
    }
    let out = child.wait_with_output().expect("p1run emulator");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for fragment in [
        state.display().to_string().as_str(),
        "00000000-0000-4000-8000-000000000000",
        "not one of its built-in or custom roles",
        "delete it to start from a fresh state",
    ] {
        assert!(stderr.contains(fragment), "lacks {fragment:?}: {stderr}");
    }
}
