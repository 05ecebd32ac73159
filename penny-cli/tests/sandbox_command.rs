//! `penny sandbox`: started as users start it, its first line of standard output gives
//! the base URL and a token, and the server answers a real request with them.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use common::penny;
use penny_api::Client;

/// Stops the child on drop (a failing assertion must not leave a server running).
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn penny_sandbox_prints_its_url_and_token_then_serves_them() {
    let dir = tempfile_dir();
    let mut cmd = penny(&dir);
    cmd.args(["sandbox", "--lines", "300", "--rate-limit", "off"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Running(cmd.spawn().unwrap());
    let stdout = child.0.stdout.take().unwrap();
    let first = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let mut words = first.split_whitespace();
    let (Some(base_url), Some(token)) = (words.next(), words.next()) else {
        panic!("the first line of standard output is not `<base url> <token>`: {first:?}");
    };
    assert!(
        base_url.starts_with("http://127.0.0.1:") && base_url.ends_with("/api/external/v2"),
        "{first}"
    );
    assert_eq!(words.next(), None, "{first}");
    let client = Client::builder()
        .base_url(base_url)
        .token(token)
        .no_rate_limit()
        .build()
        .unwrap();
    let me: serde_json::Value = client.get_json("me", "me", &[]).await.unwrap();
    assert_eq!(me["company"]["id"], 1, "{me}");
    let lines: serde_json::Value = client
        .get_json(
            "ledger_entry_lines",
            "ledger_entry_lines",
            &[("limit".into(), "5".into())],
        )
        .await
        .unwrap();
    assert_eq!(lines["items"].as_array().unwrap().len(), 5, "{lines}");
    // Still serving until stopped.
    assert!(child.0.try_wait().unwrap().is_none());
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("penny-sandbox-cmd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
