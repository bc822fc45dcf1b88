//! Keys and the database on disk: owner-only modes whatever the umask, key files that others
//! can read refused at start, and the key given by file instead of on the command line.

use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

crate::tests! {
    both: [
        a_key_file_open_to_others_is_refused,
    ],
    sqlite: [
        data_dir_key_and_database_are_owner_only_whatever_the_umask,
        a_key_on_the_command_line_is_warned_about,
    ],
}

/// How a start ended: listening (the child and its URL), or exited (status, stderr).
enum Started {
    Listening(Child, String),
    Exited(ExitStatus, String),
}

impl Started {
    fn listening(self) -> (Child, String) {
        match self {
            Started::Listening(c, url) => (c, url),
            Started::Exited(st, err) => panic!("server exited ({st}): {err}"),
        }
    }

    fn refused(self) -> String {
        match self {
            Started::Exited(st, err) => {
                assert!(!st.success(), "{err}");
                err
            }
            Started::Listening(mut c, url) => {
                let _ = c.kill();
                panic!("the server started on {url} instead of refusing");
            }
        }
    }
}

/// `aqsha serve ARGS` under umask 000 (so that only explicit modes keep files private).
fn serve(dir: &Path, args: &[&str]) -> Started {
    let log = dir.join(format!(
        "serve-{}.log",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let mut child = Command::new("sh")
        .args(["-c", "umask 000 && exec \"$0\" \"$@\""])
        .arg(bin())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("AQSHA_MASTER_KEY")
        .env_remove("AQSHA_MASTER_KEY_FILE")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let rx = first_stdout_line(&mut child);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            let url = line
                .strip_prefix("aqsha listening on ")
                .unwrap()
                .to_string();
            return Started::Listening(child, url);
        }
        if let Some(st) = child.try_wait().unwrap() {
            return Started::Exited(st, std::fs::read_to_string(&log).unwrap());
        }
        assert!(
            Instant::now() < deadline,
            "the server neither started nor exited"
        );
    }
}

fn stop(mut child: Child) {
    unsafe_free_sigterm(child.id());
    child.wait().unwrap();
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

fn chmod(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

async fn data_dir_key_and_database_are_owner_only_whatever_the_umask(_: Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (child, url) = serve(tmp.path(), &["--data-dir", data.to_str().unwrap()]).listening();
    // A transfer, so the database and its WAL have been written.
    let http = reqwest::Client::new();
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "transfer"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ];
    let token: serde_json::Value = http
        .post(format!("{url}/oauth2/token"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resp = http
        .post(format!("{url}/payments/cards/auth"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .json(&seed_like_body(&invoice(), serde_json::json!(100)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::OK);

    assert_eq!(mode(&data), 0o700, "data directory");
    for name in ["master.key", "aqsha.db", "aqsha.db-wal", "aqsha.db-shm"] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
    stop(child);
}

async fn a_key_file_open_to_others_is_refused(backend: Backend) {
    let pg = (backend == Backend::Postgres).then(crate::common::pg::PgDb::create);
    let tmp = tempfile::tempdir().unwrap();
    let data: PathBuf = tmp.path().join("data");
    let key = tmp.path().join("vault.key");
    std::fs::write(&key, format!("{TEST_MASTER_KEY}\n")).unwrap();
    chmod(&key, 0o644);
    let mut args = vec![
        "--data-dir".to_string(),
        data.display().to_string(),
        "--master-key-file".to_string(),
        key.display().to_string(),
    ];
    if let Some(pg) = &pg {
        args.extend(["--database".to_string(), pg.url.clone()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let err = serve(tmp.path(), &args).refused();
    assert!(err.contains(&key.display().to_string()), "{err}");
    assert!(
        err.contains(&format!("chmod 600 {}", key.display())),
        "{err}"
    );
    chmod(&key, 0o640);
    assert!(serve(tmp.path(), &args).refused().contains("chmod 600"));

    // Private to its owner, it is used; no key is generated into the data directory.
    chmod(&key, 0o600);
    let (child, _) = serve(tmp.path(), &args).listening();
    stop(child);
    assert!(!data.join("master.key").exists());

    // The key is given once.
    let mut both = args.clone();
    both.extend(["--master-key", TEST_MASTER_KEY]);
    let err = serve(tmp.path(), &both).refused();
    assert!(err.contains("--master-key"), "{err}");

    // The key the server generated in its data directory is held to the same rule.
    if backend == Backend::Sqlite {
        let plain = ["--data-dir", data.to_str().unwrap()];
        let (child, _) = serve(tmp.path(), &plain).listening();
        stop(child);
        let generated = data.join("master.key");
        chmod(&generated, 0o604);
        let err = serve(tmp.path(), &plain).refused();
        assert!(
            err.contains(&format!("chmod 600 {}", generated.display())),
            "{err}"
        );
    }
}

async fn a_key_on_the_command_line_is_warned_about(backend: Backend) {
    let s = Server::start_with(backend, &["--master-key", TEST_MASTER_KEY]);
    assert!(s
        .log()
        .contains("visible to every user in the process list"));
    let s = Server::start_with_env(backend, &[], &[("AQSHA_MASTER_KEY", Some(TEST_MASTER_KEY))]);
    assert!(!s.log().contains("process list"), "{}", s.log());
}
