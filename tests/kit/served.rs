//! `p1run emulator` as a separate process, as users run it.

use super::{P1RUN, SECRET_VAR, Test, config_text_for};
use p1run::emulator::{EmulatorInfo, RequestRecord};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A `p1run emulator` process, killed when dropped.
pub struct Served {
    child: Child,
    /// Its info line.
    pub info: EmulatorInfo,
}

impl Served {
    /// Starts `p1run emulator --listen 127.0.0.1:0 ARGS…` and reads its info line.
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new(P1RUN)
            .args(["emulator", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("p1run emulator");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the info line");
        let info = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not the info JSON ({e}): {line}"));
        Self { child, info }
    }

    /// `p1run apply RECIPE` against it.
    pub fn apply(&self, recipe: &str) -> super::Output {
        Test::new()
            .file("p1run.toml", &config_text_for(&self.info))
            .env(SECRET_VAR, &self.info.client_secret)
            .args(["apply", recipe, "--env", "env-1"])
            .run()
            .success()
    }

    /// `GET /_emulator/requests`.
    pub fn requests(&self) -> Vec<RequestRecord> {
        let url = format!("{}/_emulator/requests", self.info.auth_url);
        let text = super::http::Http::new()
            .send(|client| client.get(&url))
            .text;
        serde_json::from_str(&text).expect("request log JSON")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
