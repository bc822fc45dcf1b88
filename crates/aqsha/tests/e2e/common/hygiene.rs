//! Where card data must never be: after a server has run and stopped, no file it wrote (its
//! data directory, its log, PostgreSQL's files) holds a card number, a CVC or a secret.

use super::{files_under, Server, CLIENT_SECRET};

/// Checks every file `s` wrote: none holds one of `pans` or the client secret and the cabinet
/// password, and none outside PostgreSQL's own files holds one of `cvcs` as a word. `paid`,
/// an invoice id the server stored, must be found in plain, so that the search is known to
/// see what the server wrote. `s` must be stopped.
pub fn assert_no_card_data(s: &Server, paid: &str, pans: &[&str], cvcs: &[&str]) {
    let mut files = files_under(&s.data_dir());
    files.push(s.log_path());
    let pg_dirs = s.pg.as_ref().map(|pg| {
        // The server is stopped; PostgreSQL writes what it holds in memory now.
        pg.sql("CHECKPOINT");
        pg.data_dirs()
    });
    if let Some(dirs) = &pg_dirs {
        files.extend(dirs.iter().flat_map(|d| files_under(d)));
        assert!(
            files.len() > 100,
            "the PostgreSQL data directory is searched too"
        );
    } else {
        assert!(files.iter().any(|f| f.ends_with("aqsha.db")));
    }
    // The search sees what the server stored: the paid order's invoice id is there in plain.
    let on_disk = |f: &std::path::PathBuf| {
        std::fs::read(f).is_ok_and(|b| String::from_utf8_lossy(&b).contains(paid))
    };
    let stored_at: Vec<&std::path::PathBuf> =
        files.iter().filter(|f| *f != &s.log_path()).collect();
    assert!(
        stored_at.into_iter().any(on_disk),
        "the invoice id is on disk"
    );
    let secret_bits = [CLIENT_SECRET, "XZG1E@Mm"];
    for f in &files {
        let in_pg = pg_dirs.iter().flatten().any(|d| f.starts_with(d));
        let bytes = match std::fs::read(f) {
            Ok(bytes) => bytes,
            // The cluster is shared: other tests' databases come and go while this one reads.
            Err(e) if in_pg && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("{}: {e}", f.display()),
        };
        let text = String::from_utf8_lossy(&bytes);
        for p in pans.iter().chain(secret_bits.iter()) {
            assert!(!text.contains(p), "{} holds {p}", f.display());
        }
        // A CVC counts as present when it stands alone, not inside a longer run of letters,
        // digits, dashes and dots (hex digests and ids contain every 3-digit string sooner or
        // later). The
        // PostgreSQL server's own files (catalogs, binary pages) are searched for card numbers
        // only: three digits alone turn up there by chance.
        if in_pg {
            continue;
        }
        for line in text.lines() {
            // Ids keep their dashes and times their dots, so that a group of a UUID
            // ("…-4169-…") is not mistaken for a CVC.
            for word in line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.')) {
                assert!(
                    !cvcs.contains(&word),
                    "{} holds a CVC {word:?}: {line}",
                    f.display()
                );
            }
        }
    }
}
