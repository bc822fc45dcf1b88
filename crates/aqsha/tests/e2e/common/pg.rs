//! PostgreSQL for the tests: one throwaway cluster per test process, started on first use, and
//! a fresh database per test copied from a migrated template. `initdb` and a server start cost
//! seconds; `CREATE DATABASE … TEMPLATE` costs milliseconds, so a test pays only for the copy.
//!
//! As root, `initdb` and `postgres` run as the `postgres` user, since they refuse to run as
//! root. The cluster is stopped by [`shutdown`] when the trials are over, and by its watchdog
//! shell when the test process dies any other way (the shell's stdin is a pipe from this
//! process: when the pipe closes, the shell stops the server).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The directory holding `initdb` and `postgres`: on PATH, or under /usr/lib/postgresql/*/bin.
pub fn binaries() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("postgres").is_file() {
                return Some(dir);
            }
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|d| d.join("initdb").is_file() && d.join("postgres").is_file())
        .collect();
    found.sort();
    found.pop()
}

/// (uid, gid) of the `postgres` system user, when we are root and must drop to it.
fn run_as() -> Option<(u32, u32)> {
    let me = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&me.stdout).trim() != "0" {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 4 || f[0] != "postgres" {
            return None;
        }
        Some((f[2].parse().ok()?, f[3].parse().ok()?))
    })
}

fn command(bin: &Path, name: &str, who: Option<(u32, u32)>) -> Command {
    let mut c = Command::new(bin.join(name));
    if let Some((uid, gid)) = who {
        c.uid(uid).gid(gid);
    }
    c
}

/// Runs `cmd` to its end; `Err` says what failed with what it printed on stderr.
fn run_ok(mut cmd: Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!("{what} failed: {stderr}"));
    }
    Ok(())
}

/// The template every test database is copied from: migrated once, never connected to after.
const TEMPLATE: &str = "aqsha_template";

struct Cluster {
    port: u16,
    /// Where `psql` lives (beside the real `initdb`; PATH may hold only links to it).
    bin: PathBuf,
    who: Option<(u32, u32)>,
    data: PathBuf,
    /// The watchdog shell and the pipe to its stdin; taken by [`shutdown`].
    running: Mutex<Option<(Child, ChildStdin)>>,
    dir: Mutex<Option<tempfile::TempDir>>,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

fn cluster() -> &'static Cluster {
    match CLUSTER.get_or_init(start) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

fn start() -> Result<Cluster, String> {
    let bin = binaries().ok_or("no PostgreSQL binaries (initdb, postgres)")?;
    let bin = std::fs::canonicalize(bin.join("initdb"))
        .map_err(|e| e.to_string())?
        .parent()
        .unwrap()
        .to_path_buf();
    let who = run_as();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let data = dir.path().join("data");
    if let Some((uid, gid)) = who {
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).map_err(|e| e.to_string())?;
    }
    let mut initdb = command(&bin, "initdb", who);
    initdb
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
    run_ok(initdb, "initdb")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let log = dir.path().join("postgres.log");
    // Durability is not under test here (no test stops the machine), and fsync on a disk
    // shared by parallel tests costs more than anything else the server does.
    let script = r#"pg="$1"; shift; "$pg" "$@" 2>"$LOG" & child=$!; read -r _; kill -QUIT "$child"; wait "$child""#;
    let mut shell = Command::new("sh");
    if let Some((uid, gid)) = who {
        shell.uid(uid).gid(gid);
    }
    let mut child = shell
        .args(["-c", script, "watchdog"])
        .arg(bin.join("postgres"))
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-k"])
        .arg(dir.path())
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=400",
        ])
        .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
        .args(["-c", "full_page_writes=off"])
        // A copied database is written to the log whole: keep the log short.
        .args(["-c", "max_wal_size=256MB", "-c", "min_wal_size=32MB"])
        .env("LOG", &log)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdin = child.stdin.take().unwrap();
    let cluster = Cluster {
        port,
        bin,
        who,
        data,
        running: Mutex::new(Some((child, stdin))),
        dir: Mutex::new(Some(dir)),
    };
    cluster.wait_ready()?;
    cluster.migrate_template()?;
    Ok(cluster)
}

impl Cluster {
    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        // Accepting TCP connections can come a moment before accepting sessions.
        while self.psql("postgres", "SELECT 1").is_err() {
            if Instant::now() > deadline {
                return Err(format!("postgres did not start: {}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Creates the template and applies the migrations to it with `aqsha migrate`, the way an
    /// operator would, so that each test's database starts migrated.
    fn migrate_template(&self) -> Result<(), String> {
        self.psql("postgres", &format!("CREATE DATABASE {TEMPLATE}"))?;
        let mut migrate = Command::new(super::bin());
        migrate
            .args(["migrate", "--database", &self.url(TEMPLATE)])
            .args(["--master-key", super::TEST_MASTER_KEY])
            .env(
                "AQSHA_DATA_DIR",
                self.data.parent().unwrap().join("migrate"),
            );
        run_ok(migrate, "aqsha migrate on the template")
    }

    fn log(&self) -> String {
        let dir = self.data.parent().unwrap();
        std::fs::read_to_string(dir.join("postgres.log")).unwrap_or_default()
    }

    fn psql(&self, database: &str, statements: &str) -> Result<String, String> {
        let out = command(&self.bin, "psql", self.who)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-d", database])
            .args(["-v", "ON_ERROR_STOP=1", "-qAt", "-c", statements])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// Stops the cluster, if one was started, and removes its files. Called once the trials are
/// over; the test databases go with it.
pub fn shutdown() {
    let Some(Ok(c)) = CLUSTER.get() else { return };
    if let Some((mut shell, mut stdin)) = c.running.lock().unwrap().take() {
        let _ = stdin.write_all(b"stop\n");
        drop(stdin);
        let _ = shell.wait();
    }
    c.dir.lock().unwrap().take();
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A fresh, migrated database on the shared cluster, dropped with this value.
pub struct PgDb {
    pub url: String,
    name: String,
}

impl PgDb {
    pub fn create() -> PgDb {
        let c = cluster();
        let name = format!("t_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        c.psql(
            "postgres",
            &format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE}"),
        )
        .unwrap_or_else(|e| panic!("creating the test database {name}: {e}"));
        PgDb {
            url: c.url(&name),
            name,
        }
    }

    /// Where this database's data reaches the disk: its own directory and the cluster's
    /// write-ahead log (shared with the other tests' databases). `CHECKPOINT` first to have
    /// everything written there.
    pub fn data_dirs(&self) -> Vec<PathBuf> {
        let oid = self.sql("SELECT oid FROM pg_database WHERE datname = current_database()");
        let data = &cluster().data;
        vec![data.join("base").join(oid.trim()), data.join("pg_wal")]
    }

    /// Runs SQL on this database through `psql`, as a person with a console would, behind the
    /// servers' backs; `Err` carries what `psql` printed on stderr.
    pub fn try_sql(&self, statements: &str) -> Result<String, String> {
        cluster().psql(&self.name, statements)
    }

    pub fn sql(&self, statements: &str) -> String {
        self.try_sql(statements)
            .unwrap_or_else(|e| panic!("psql failed: {e}"))
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        // Disk space: a database is several megabytes and a run makes over a hundred.
        let _ = cluster().psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}
