//! A real PostgreSQL server for the tests (Debian's `postgresql`, installed
//! by `scripts/setup.sh --tests`): a new cluster in a temporary folder with
//! `wal_level=logical`, on a free port, trusting local connections, stopped
//! and removed when dropped. As root (CI), the server runs as the
//! `postgres` user, since PostgreSQL refuses to run as root.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A running cluster.
pub struct Postgres {
    dir: tempfile::TempDir,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

/// The folder of the server's programs (the newest installed version).
fn bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed: run scripts/setup.sh --tests")
        .map(|e| e.unwrap().path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop().expect("no initdb under /usr/lib/postgresql")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// `program args...` of the server's programs, as `postgres` when root.
fn server_command(program: &str, args: &[&str]) -> Command {
    let path = bin_dir().join(program);
    match is_root() {
        true => {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path).args(args);
            command
        }
        false => {
            let mut command = Command::new(path);
            command.args(args);
            command
        }
    }
}

fn succeeded(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Postgres {
    /// Creates and starts a cluster with superuser `weir` and database
    /// `shop`.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// [`Postgres::start`], accepting TCP connections over TLS only, with a
    /// certificate for 127.0.0.1 and `localhost` signed by the CA whose
    /// certificate is [`Postgres::ca`].
    pub fn start_tls() -> Self {
        Self::start_with(true)
    }

    /// The CA certificate of a server started with [`Postgres::start_tls`].
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    fn start_with(tls: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            succeeded(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(dir.path())
                    .output()
                    .unwrap(),
                "chown",
            );
        }
        let data = dir.path().join("data");
        let data = data.to_str().unwrap();
        succeeded(
            server_command(
                "initdb",
                &["-D", data, "-U", "weir", "--auth=trust", "-E", "UTF8"],
            )
            .output()
            .unwrap(),
            "initdb",
        );
        let mut options = String::new();
        if tls {
            certificates(dir.path(), &dir.path().join("data"));
            let hba = dir.path().join("data/pg_hba.conf");
            let only_tls: String = std::fs::read_to_string(&hba)
                .unwrap()
                .lines()
                .map(|line| match line.strip_prefix("host ") {
                    Some(rest) => format!("hostssl {rest}\n"),
                    None => format!("{line}\n"),
                })
                .collect();
            std::fs::write(&hba, only_tls).unwrap();
            options.push_str(" -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key");
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let options = format!(
            "-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c wal_level=logical -c max_replication_slots=20 -c max_wal_senders=20 -c fsync=off -c timezone=UTC{options}",
            dir.path().display()
        );
        let log = dir.path().join("server.log");
        succeeded(
            server_command(
                "pg_ctl",
                &[
                    "-D",
                    data,
                    "-o",
                    &options,
                    "-l",
                    log.to_str().unwrap(),
                    "-w",
                    "start",
                ],
            )
            .output()
            .unwrap(),
            "pg_ctl start",
        );
        let server = Self { dir, port };
        server.sql_on("postgres", "CREATE DATABASE shop");
        server
    }

    /// Runs `sql` in database `shop`; answers what psql printed (unaligned,
    /// tuples only).
    pub fn sql(&self, sql: &str) -> String {
        self.sql_on("shop", sql)
    }

    /// The client programs' arguments that reach this server as `weir`.
    pub fn client_args(&self) -> [String; 6] {
        [
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "weir",
        ]
        .map(String::from)
    }

    /// Runs `sql` in `database`.
    pub fn sql_on(&self, database: &str, sql: &str) -> String {
        let out = Command::new("psql")
            .args(self.client_args())
            .args(["-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
            .output()
            .unwrap();
        let out = succeeded(out, &format!("psql {sql}"));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Starts `pgbench` running `script` (its custom-script language)
    /// `transactions` times on database `shop`.
    pub fn pgbench(&self, script: &str, transactions: u32) -> std::process::Child {
        let file = self.dir.path().join(format!("script-{}.sql", self.port));
        std::fs::write(&file, script).unwrap();
        Command::new(bin_dir().join("pgbench"))
            .args(self.client_args())
            .args([
                "-n",
                "-t",
                &transactions.to_string(),
                "-f",
                file.to_str().unwrap(),
                "shop",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }

    /// The `config:` fields of a `postgres-cdc` source on this server.
    pub fn connection(&self) -> String {
        format!(
            "host: 127.0.0.1, port: {}, database: shop, user: weir",
            self.port
        )
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

/// Runs `openssl args...` in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    succeeded(
        Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("openssl is not installed: run scripts/setup.sh --tests"),
        &format!("openssl {}", args.join(" ")),
    );
}

/// Makes `ca.crt` in `dir` (and a second CA, `other-ca.crt`, that signed
/// nothing) and the server's `server.crt` and `server.key` in `data`,
/// owned by the server's user.
fn certificates(dir: &Path, data: &Path) {
    let key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for ca in ["ca", "other-ca"] {
        let (subject, key_file, cert_file) = (
            format!("/CN=weir test {ca}"),
            format!("{ca}.key"),
            format!("{ca}.crt"),
        );
        let names = ["-subj", &subject, "-keyout", &key_file, "-out", &cert_file];
        openssl(
            dir,
            &[&["req", "-x509", "-days", "2"][..], &key, &names].concat(),
        );
    }
    openssl(
        dir,
        &[
            &[
                "req",
                "-subj",
                "/CN=localhost",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ][..],
            &key,
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.crt",
        ],
    );
    for file in ["server.crt", "server.key"] {
        let to = data.join(file);
        std::fs::rename(dir.join(file), &to).unwrap();
        let mut permissions = std::fs::metadata(&to).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o600);
        std::fs::set_permissions(&to, permissions).unwrap();
        if is_root() {
            succeeded(
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(&to)
                    .output()
                    .unwrap(),
                "chown",
            );
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = server_command(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", "immediate", "stop"],
        )
        .output();
    }
}
