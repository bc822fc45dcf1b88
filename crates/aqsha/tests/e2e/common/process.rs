//! The server as a process, and starting it again: `aqsha serve` on port 0, its first stdout
//! line for the address, its stderr as the log; or the in-process server on the same data.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use super::{bin, inproc, Runner, Server};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

impl Server {
    pub(super) fn spawn(&mut self) {
        if let Runner::InProcess(config, running) = &mut self.runner {
            let (url, handle) = inproc::Running::start(config);
            *running = Some(handle);
            self.url = url;
            return;
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let mut cmd = Command::new(bin());
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        let mut child = cmd
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(&self.extra_args)
            .env("AQSHA_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let line = first_stdout_line(&mut child)
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("server did not start; log:\n{}", self.log()));
        self.url = line
            .strip_prefix("aqsha listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        self.runner = Runner::Process(Some(child));
    }

    /// The running process; tests that call this must start the server with
    /// [`Server::process`] or [`Server::start_with`].
    fn child(&mut self) -> &mut Option<Child> {
        match &mut self.runner {
            Runner::Process(child) => child,
            Runner::InProcess(..) => {
                panic!("an in-process server has no process: use Server::process")
            }
        }
    }

    /// Stops with SIGTERM and waits; returns the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child().take().expect("running");
        unsafe_free_sigterm(child.id());
        child.wait().unwrap()
    }

    /// Kills the server with SIGKILL, as a crash would.
    pub fn crash(&mut self) {
        let mut child = self.child().take().expect("running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Waits for a process that was already sent SIGTERM.
    pub fn stop_waiting(&mut self) -> std::process::ExitStatus {
        self.child().take().expect("running").wait().unwrap()
    }

    /// Waits at most `within` for the process to exit (after SIGTERM); `None` if it is still
    /// running then (it is killed when the `Server` is dropped).
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let started = std::time::Instant::now();
        while started.elapsed() < within {
            let slot = self.child();
            if let Some(status) = slot.as_mut().expect("running").try_wait().unwrap() {
                *slot = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Stops the server (gracefully) and starts it again on the same data and database.
    pub fn restart(&mut self) {
        match &mut self.runner {
            Runner::InProcess(_, running) => drop(running.take()),
            Runner::Process(child) => {
                if child.is_some() {
                    self.stop();
                }
            }
        }
        // The first line of the new run must be read, not the old one's.
        self.spawn();
    }

    pub fn pid(&self) -> u32 {
        match &self.runner {
            Runner::Process(Some(child)) => child.id(),
            _ => panic!("no running process: use Server::process"),
        }
    }

    /// What the server process wrote on stderr (at debug level).
    pub fn log(&self) -> String {
        assert!(
            matches!(self.runner, Runner::Process(_)),
            "an in-process server writes no log: use Server::process"
        );
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

/// The first line the child prints on stdout (`aqsha listening on …`), when it comes; the rest
/// is drained in the background so the child never blocks on a full pipe.
pub fn first_stdout_line(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        for _ in lines {}
    });
    rx
}

/// SIGTERM without `unsafe`: through the `kill` command.
pub fn unsafe_free_sigterm(pid: u32) {
    Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
}
