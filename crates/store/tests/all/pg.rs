//! A throwaway PostgreSQL server for the store's measurements: `initdb` in a temporary
//! directory, `pg_ctl start -w`, and `pg_ctl stop` when dropped. As root, the binaries run as
//! the `postgres` user, since they refuse to run as root. (The end-to-end tests have their
//! own shared cluster, `crates/aqsha/tests/e2e/common/pg.rs`; this one is for a single
//! ignored measurement and needs no `aqsha` binary.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

pub(crate) struct Pg {
    bin: PathBuf,
    who: Option<(u32, u32)>,
    data: PathBuf,
    pub url: String,
    _dir: tempfile::TempDir,
}

/// The newest /usr/lib/postgresql/*/bin with `initdb`.
fn binaries() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL under /usr/lib/postgresql")
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|d| d.join("initdb").is_file())
        .collect();
    found.sort();
    found.pop().expect("PostgreSQL binaries")
}

/// (uid, gid) of the `postgres` user when we are root, as `id` tells them.
fn run_as() -> Option<(u32, u32)> {
    let id = |args: &[&str]| -> Option<u32> {
        let out = Command::new("id").args(args).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    if id(&["-u"])? != 0 {
        return None;
    }
    Some((id(&["-u", "postgres"])?, id(&["-g", "postgres"])?))
}

impl Pg {
    fn command(&self, name: &str) -> Command {
        let mut c = Command::new(self.bin.join(name));
        if let Some((uid, gid)) = self.who {
            c.uid(uid).gid(gid);
        }
        c
    }

    fn run(&self, mut c: Command, what: &str) {
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A started server with an empty database `aqsha`. Settings as the end-to-end cluster's,
    /// except fsync: on, as a deployment has it, so the figures are a deployment's.
    pub(crate) fn start() -> Pg {
        let dir = tempfile::tempdir().unwrap();
        let who = run_as();
        if let Some((uid, gid)) = who {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let pg = Pg {
            bin: binaries(),
            who,
            data: dir.path().join("data"),
            url: format!("postgres://postgres@127.0.0.1:{port}/aqsha"),
            _dir: dir,
        };
        let mut initdb = pg.command("initdb");
        initdb.arg("-D").arg(&pg.data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        pg.run(initdb, "initdb");
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c shared_buffers=256MB",
            pg.data.parent().unwrap().display()
        );
        let mut start = pg.command("pg_ctl");
        start
            .arg("-D")
            .arg(&pg.data)
            .args(["-o", &options, "-l"])
            .arg(pg.data.parent().unwrap().join("postgres.log"))
            .args(["-w", "start"]);
        pg.run(start, "pg_ctl start");
        let mut create = pg.command("createdb");
        create.args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "aqsha",
        ]);
        pg.run(create, "createdb");
        pg
    }

    /// Runs SQL on the `aqsha` database through `psql`.
    pub(crate) fn sql(&self, statements: &str) {
        let port = self
            .url
            .rsplit(':')
            .next()
            .unwrap()
            .split('/')
            .next()
            .unwrap();
        let mut psql = self.command("psql");
        psql.args([
            "-h",
            "127.0.0.1",
            "-p",
            port,
            "-U",
            "postgres",
            "-d",
            "aqsha",
        ])
        .args(["-v", "ON_ERROR_STOP=1", "-qAt", "-c", statements]);
        self.run(psql, "psql");
    }
}

/// [`super::search_scale::fill`]'s rows, written by PostgreSQL itself: a million operations
/// of `merchant` over 100 days, one in a thousand another merchant's, a tenth declined.
pub(crate) fn fill(pg: &Pg, merchant: &str) {
    assert!(merchant
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-'));
    pg.sql(&format!(
        r#"INSERT INTO operations (id, merchant_id, terminal_id, invoice_id, account_id, amount,
         fee, currency, description, email, status, reason_code, reason, reference,
         int_reference, sender_card_id, sender_mask, sender_brand, sender_type,
         receiver_card_id, receiver_mask, receiver_brand, receiver_type, token_id,
         request_digest, http_status, response_body, created_at, day, invoice_tail)
         SELECT 'op-' || lpad(n::text, 8, '0'),
                CASE WHEN n % 1000 = 7 THEN 'someone-else' ELSE '{merchant}' END,
                (ARRAY['67e34d63-102f-4bd1-898e-370781d0074d',
                       '40a348cb-68a3-45d5-9002-a4836d79c3b5',
                       'c36b282f-6819-4d4f-85df-a4bdc8a8f703'])[n % 3 + 1],
                lpad((100000000 + n)::text, 12, '0'), 'customer-' || (n % 5000),
                100 * (1 + n % 1000), 95, 'KZT', '', '',
                CASE WHEN n % 10 = 3 THEN 'FAILED' ELSE 'CHARGE' END,
                CASE WHEN n % 10 = 3 THEN 484 ELSE 0 END, '',
                CASE WHEN n % 10 = 3 THEN '' ELSE lpad((n + 1)::text, 12, '0') END, '', '',
                '440563...' || lpad((n % 10000)::text, 4, '0'), 'VISA', 'TYPEPAN', '',
                '440563...7622', 'VISA', 'TYPECARDID', 'op-' || lpad(n::text, 8, '0'), '', 200,
                '{{}}', to_char(at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                to_char(at, 'YYYY-MM-DD'), right(lpad((100000000 + n)::text, 12, '0'), 6)
         FROM (SELECT n, (now() AT TIME ZONE 'UTC') - interval '100 days'
                         + n * interval '8640 milliseconds' AS at
               FROM generate_series(0, 999999) AS n) AS g;
         ANALYZE operations;"#
    ));
}

impl Drop for Pg {
    fn drop(&mut self) {
        let mut stop = self.command("pg_ctl");
        stop.arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "stop"]);
        let _ = stop.output();
    }
}
