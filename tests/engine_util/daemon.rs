//! One `bidtorrent daemon` for tests: started on loopback with its own data dir, socket and
//! config, driven through the real CLI, SIGTERMed or killed on drop. The DHT is always off
//! (`--no-dht`) unless the test's config has a `[dht]` table (a private loopback DHT), so no
//! test ever reaches the public routers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{BIN, s};

pub struct Daemon {
    pub child: Child,
    pub data: PathBuf,
    pub socket: PathBuf,
    pub config: PathBuf,
}

impl Daemon {
    /// A daemon in `dir`: `dir/state`, `dir/run/ctl.sock`, `dir/config.toml` (written from
    /// `config` when given, else kept if it exists, else empty).
    pub fn start(dir: &Path, config: Option<&str>) -> Daemon {
        std::fs::create_dir_all(dir).expect("mkdir");
        let cfg = dir.join("config.toml");
        match config {
            Some(text) => std::fs::write(&cfg, text).expect("config"),
            None if !cfg.exists() => std::fs::write(&cfg, "").expect("config"),
            None => {}
        }
        Daemon::spawn(dir.join("state"), dir.join("run").join("ctl.sock"), cfg)
    }

    pub fn spawn(data: PathBuf, socket: PathBuf, config: PathBuf) -> Daemon {
        Daemon::spawn_with_nofile(data, socket, config, None)
    }

    /// As [`Daemon::start`], with soft and hard RLIMIT_NOFILE both set to `nofile` in the
    /// child (so the daemon cannot raise its way out of it).
    pub fn start_with_nofile(dir: &Path, nofile: u64) -> Daemon {
        std::fs::create_dir_all(dir).expect("mkdir");
        let cfg = dir.join("config.toml");
        if !cfg.exists() {
            std::fs::write(&cfg, "").expect("config");
        }
        let (data, socket) = (dir.join("state"), dir.join("run").join("ctl.sock"));
        Daemon::spawn_with_nofile(data, socket, cfg, Some(nofile))
    }

    fn spawn_with_nofile(
        data: PathBuf,
        socket: PathBuf,
        config: PathBuf,
        nofile: Option<u64>,
    ) -> Daemon {
        let text = std::fs::read_to_string(&config).unwrap_or_default();
        let dht_configured = text.lines().any(|l| l.trim() == "[dht]");
        let mut cmd = Command::new(BIN);
        cmd.args(["--data-dir", s(&data), "--socket", s(&socket)])
            .args(["--config", s(&config), "daemon", "--listen", "127.0.0.1:0"]);
        if !dht_configured {
            cmd.arg("--no-dht");
        }
        if let Some(n) = nofile {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is async-signal-safe, and the closure touches nothing else.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: n,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let child = cmd
            .env_remove("BIDTORRENT_LEDGER")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn daemon");
        let mut d = Daemon {
            child,
            data,
            socket,
            config,
        };
        d.wait_ready();
        d
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(&self.socket).is_err() {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("daemon exited early: {st}");
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not open {}",
                self.socket.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM and wait; returns the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        // SAFETY: kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st;
            }
            assert!(Instant::now() < deadline, "daemon ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The CLI against this daemon, stdin closed.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(["--data-dir", s(&self.data), "--socket", s(&self.socket)])
            .args(args)
            .env_remove("BIDTORRENT_LEDGER")
            .stdin(Stdio::null())
            .output()
            .expect("spawn client")
    }

    /// The CLI with `input` on its stdin.
    pub fn cli_input(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write;
        let mut child = Command::new(BIN)
            .args(["--data-dir", s(&self.data), "--socket", s(&self.socket)])
            .args(args)
            .env_remove("BIDTORRENT_LEDGER")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn client");
        let mut w = child.stdin.take().expect("stdin");
        w.write_all(input).expect("write stdin");
        drop(w);
        child.wait_with_output().expect("client output")
    }

    /// Runs a command that must succeed and print JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.cli(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
    }

    pub fn ls(&self) -> Vec<Value> {
        let out = self.cli(&["ls", "--json"]);
        assert!(out.status.success(), "ls: {}", stderr(&out));
        serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("ls --json")
    }

    /// The peer port.
    pub fn port(&self) -> u64 {
        self.json(&["status", "--json"])["listen_port"]
            .as_u64()
            .expect("port")
    }

    /// Waits until torrent #1 is seeding.
    pub fn wait_seeding(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let ls = self.json(&["ls", "--json"]);
            if ls[0]["phase"] == "seeding" {
                return;
            }
            assert!(Instant::now() < deadline, "not complete: {ls}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
