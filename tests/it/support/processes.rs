//! The `tessera` binary as a separate process: `serve` and its readiness.
use super::server::TestDb;

/// A `tessera` process, killed when dropped.
pub struct Proc(pub std::process::Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Run `tessera serve` on `port` against `tdb`, with fast key settings and `extra` environment.
/// The deployment's KEK is delivered as a file, as a secret manager would
/// (`TESSERA_KEK_FILE`, which the server never creates): made here if missing.
pub fn serve_process(tdb: &TestDb, port: u16, issuer: &str, extra: &[(&str, &str)], stderr: std::process::Stdio) -> Proc {
    tessera::keys::Kek::load_or_create(&tdb.kek_file(), true).expect("the deployment's KEK file");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("serve")
        .arg("--workers")
        .arg("1")
        .envs(tdb.env())
        .env("TESSERA_BIND", format!("127.0.0.1:{port}"))
        .env("TESSERA_ISSUER", issuer)
        .env("TESSERA_KEY_REFRESH_SECS", "1")
        .env("TESSERA_JWKS_MAX_AGE", "1")
        .env("TESSERA_KEY_MARGIN_SECS", "1")
        .env("TESSERA_DEFAULT_AUDIENCE", "https://api.example.com")
        .env("TESSERA_AUDIENCES", "https://api.example.com,https://billing.example.com")
        .envs(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start tessera");
    Proc(child)
}

pub async fn wait_ready(http: &reqwest::Client, base: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        assert!(std::time::Instant::now() < deadline, "{base} did not become ready");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}


/// A Redis Cluster of its own for one test (three primaries, a replica
/// each), so that a failover there disturbs no other test. Every node is
/// stopped when it is dropped.
pub struct RedisCluster {
    pub ports: Vec<u16>,
    nodes: Vec<std::process::Child>,
    _dir: tempfile::TempDir,
}

/// A port whose cluster bus (port + 10000) is free too, both below 32768.
fn free_cluster_port(taken: &[u16]) -> u16 {
    let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
    let mut p = 20000 + (std::process::id() % 2700) as u16;
    loop {
        p = if p >= 22767 { 20000 } else { p + 1 };
        if !taken.contains(&p) && free(p) && free(p + 10000) {
            return p;
        }
    }
}

impl RedisCluster {
    pub fn start() -> RedisCluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut ports = vec![];
        let mut nodes = vec![];
        for _ in 0..6 {
            let port = free_cluster_port(&ports);
            let d = dir.path().join(port.to_string());
            std::fs::create_dir_all(&d).expect("node dir");
            let child = std::process::Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
                .args(["--cluster-config-file", &d.join("nodes.conf").display().to_string(), "--dir", &d.display().to_string()])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("redis-server (installed by scripts/test.sh)");
            ports.push(port);
            nodes.push(child);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        for p in &ports {
            while std::net::TcpStream::connect(("127.0.0.1", *p)).is_err() {
                assert!(std::time::Instant::now() < deadline, "redis node {p} did not start");
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        let mut create = std::process::Command::new("redis-cli");
        create.args(["--cluster", "create"]).args(ports.iter().map(|p| format!("127.0.0.1:{p}"))).args(["--cluster-replicas", "1", "--cluster-yes"]);
        let out = create.output().expect("redis-cli");
        assert!(out.status.success(), "cluster create: {}", String::from_utf8_lossy(&out.stdout));
        let c = RedisCluster { ports, nodes, _dir: dir };
        c.wait_until(|c| c.cli(c.ports[0], &["cluster", "info"]).contains("cluster_state:ok"), "the cluster to form");
        // a replica takes over only once it holds its primary's data
        c.wait_until(
            |c| {
                let replicas = c.replicas();
                replicas.len() == 3 && replicas.iter().all(|p| c.cli(*p, &["info", "replication"]).contains("master_link_status:up"))
            },
            "the replicas to sync",
        );
        c
    }

    pub fn urls(&self) -> Vec<String> {
        self.ports.iter().map(|p| format!("redis://127.0.0.1:{p}/")).collect()
    }

    /// `redis-cli -p port args…`, its output.
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        let out = std::process::Command::new("redis-cli").arg("-p").arg(port.to_string()).args(args).output().expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The ports of the nodes that are replicas now.
    pub fn replicas(&self) -> Vec<u16> {
        self.ports.iter().copied().filter(|p| self.cli(*p, &["role"]).starts_with("slave")).collect()
    }

    /// Wait (polling, up to 20 s) until `done` holds.
    pub fn wait_until(&self, done: impl Fn(&RedisCluster) -> bool, what: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !done(self) {
            assert!(std::time::Instant::now() < deadline, "waited too long for {what}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            let _ = n.kill();
            let _ = n.wait();
        }
    }
}

/// A PostgreSQL server of its own for one test (trust auth from loopback),
/// stopped when dropped; `extra` is added to its `-o` options.
pub struct Postgres {
    extra: String,
    bin: String,
    data: std::path::PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

pub fn as_postgres(cmd: &str) -> std::process::Command {
    let root = is_root();
    if root {
        let mut c = std::process::Command::new("runuser");
        c.args(["-u", "postgres", "--", cmd]);
        c
    } else {
        std::process::Command::new(cmd)
    }
}

/// Hand `path` (recursively) to the `postgres` user when running as root.
pub fn give_to_postgres(path: &std::path::Path) {
    if is_root() {
        std::process::Command::new("chown").args(["-R", "postgres", &path.display().to_string()]).status().unwrap();
    }
}

fn is_root() -> bool {
    std::process::Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

impl Postgres {
    pub fn start() -> Postgres {
        Self::start_with("", |_| {})
    }

    /// `prepare` sees the data directory after initdb (owned by the server's user), before the start.
    pub fn start_with(extra: &str, prepare: impl FnOnce(&std::path::Path)) -> Postgres {
        let bin = crate::support::required_env("TESSERA_TEST_PG_BIN");
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        if is_root() {
            std::process::Command::new("chown").args(["-R", "postgres", &dir.path().display().to_string()]).status().unwrap();
        }
        let ok = as_postgres(&format!("{bin}/initdb"))
            .args(["-D", &data.display().to_string(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
            .output()
            .unwrap();
        assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
        prepare(&data);
        let pg = Postgres { extra: extra.to_string(), bin, data, port: free_port(), _dir: dir };
        pg.up();
        pg
    }
    pub fn ctl(&self, args: &[&str]) {
        let opts = format!("-c listen_addresses=127.0.0.1 -p {} -k /tmp -c fsync=off {}", self.port, self.extra);
        let out = as_postgres(&format!("{}/pg_ctl", self.bin))
            .args(["-D", &self.data.display().to_string(), "-w", "-t", "30", "-o", &opts, "-l", &self.data.join("log").display().to_string()])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "pg_ctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    pub fn up(&self) {
        self.ctl(&["start"]);
    }
    pub fn down(&self) {
        self.ctl(&["stop", "-m", "immediate"]);
    }
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = as_postgres(&format!("{}/pg_ctl", self.bin)).args(["-D", &self.data.display().to_string(), "-m", "immediate", "stop"]).output();
    }
}


/// A `redis-server` of its own for one test (`args` added: TLS, a
/// password …), listening on `port` once `start` returns, killed when
/// stopped or dropped.
pub struct RedisServer {
    child: std::process::Child,
    pub port: u16,
    /// Its working directory: a replica writes the primary's snapshot
    /// there, which would otherwise land in the checkout.
    _dir: tempfile::TempDir,
}

impl RedisServer {
    pub fn start(port: u16, args: &[&str]) -> RedisServer {
        let port_arg = port.to_string();
        Self::spawn(port, &[&["--bind", "127.0.0.1", "--port", &port_arg, "--save", "", "--appendonly", "no"][..], args].concat())
    }

    /// A sentinel on `port` with the configuration `conf` (which it rewrites as it learns).
    pub fn sentinel(port: u16, conf: &std::path::Path) -> RedisServer {
        Self::spawn(port, &[&conf.display().to_string(), "--sentinel"])
    }

    fn spawn(port: u16, args: &[&str]) -> RedisServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let child = std::process::Command::new("redis-server")
            .args(args)
            .args(["--dir", &dir.path().display().to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (installed by scripts/test.sh)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "redis-server on {port} did not start");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        RedisServer { child, port, _dir: dir }
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
