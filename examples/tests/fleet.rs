//! A fleet rollout as users run it: `ansible-playbook` (ansible-core from the Python
//! registry, in the venv `.ci/run` creates) in a controller namespace, three "hosts",
//! each a namespace running Debian's sshd on its own address with keys this test
//! generates, and the repository's own playbook with the provision binary as the
//! module. Nothing outside these namespaces and a temporary directory is touched.

mod common;

#[path = "../provision/roles.rs"]
mod roles;

use common::sshd::{self, Sshd};
use common::{provision, root};
use fwdsl::sandbox::Netns;
use fwdsl::Packet;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const PROBED: [u16; 3] = [22, 80, 5432];

fn controller_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 77, i as u8 + 1, 1)
}

fn host_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 77, i as u8 + 1, 2)
}

/// ansible-playbook from `.ci/run`'s venv (or `FWDSL_ANSIBLE_BIN`, a directory).
fn ansible_bin() -> Option<PathBuf> {
    let dir = std::env::var_os("FWDSL_ANSIBLE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/venv/bin"));
    dir.join("ansible-playbook").exists().then_some(dir)
}

/// The namespaces, the sshds and the temporary directory; all gone when dropped.
struct Fleet {
    dir: PathBuf,
    bin: PathBuf,
    controller: Netns,
    hosts: Vec<Netns>,
    sshd: Vec<Sshd>,
    _listeners: Vec<TcpListener>,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        // The sshds (and their sessions) first: they run from the directory.
        self.sshd.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Fleet {
    fn new(bin: PathBuf) -> Fleet {
        let dir = std::env::temp_dir().join(format!("fwdsl-fleet-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("library")).unwrap();
        std::os::unix::fs::symlink(provision().get_program(), dir.join("library/provision"))
            .unwrap();
        sshd::keys(&dir);

        let controller = Netns::create("fwdsl-fleet-ctl").unwrap();
        let mut fleet = Fleet {
            dir,
            bin,
            controller,
            hosts: Vec::new(),
            sshd: Vec::new(),
            _listeners: Vec::new(),
        };
        for i in 0..roles::NAMES.len() {
            fleet.add_host(i);
        }
        fleet.write_inventory();
        fleet
    }

    fn add_host(&mut self, i: usize) {
        let host = Netns::create(&format!("fwdsl-fleet-h{i}")).unwrap();
        let link = format!("h{i}");
        // Created in the controller's namespace, the peer straight into the host's.
        let ctl = &self.controller;
        ctl.exec(
            "ip",
            &[
                "link",
                "add",
                &link,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                host.name(),
            ],
        )
        .unwrap();
        ctl.exec(
            "ip",
            &[
                "addr",
                "add",
                &format!("{}/24", controller_ip(i)),
                "dev",
                &link,
            ],
        )
        .unwrap();
        ctl.exec("ip", &["link", "set", &link, "up"]).unwrap();
        host.exec(
            "ip",
            &["addr", "add", &format!("{}/24", host_ip(i)), "dev", "eth0"],
        )
        .unwrap();
        host.exec("ip", &["link", "set", "eth0", "up"]).unwrap();
        // A rule that is not fwdsl's, which every step must leave in place.
        host.exec(
            "iptables",
            &["-A", "INPUT", "-s", "203.0.113.9", "-j", "DROP"],
        )
        .unwrap();

        self.sshd.push(Sshd::start(
            &host,
            host_ip(i).into(),
            &self.dir,
            &format!("h{i}"),
        ));
        let ip = host_ip(i);
        self._listeners.extend(
            host.run(|| {
                [80u16, 5432]
                    .map(|p| TcpListener::bind((ip, p)).unwrap())
                    .into_iter()
                    .collect::<Vec<_>>()
            })
            .unwrap(),
        );
        self.hosts.push(host);
        let start = Instant::now();
        while !self.connects(i, 22) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "sshd {i} did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn write_inventory(&self) {
        let mut inventory = String::from("[fleet]\n");
        for (i, role) in roles::NAMES.iter().enumerate() {
            inventory.push_str(&format!(
                "h{i} ansible_host={} fwdsl_role={role}\n",
                host_ip(i)
            ));
        }
        inventory.push_str(&format!(
            "[fleet:vars]\nansible_user=root\nansible_ssh_private_key_file={}/id\n\
             ansible_python_interpreter=/usr/bin/python3\n\
             ansible_ssh_common_args=-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=3\n",
            self.dir.display()
        ));
        std::fs::write(self.dir.join("inventory.ini"), inventory).unwrap();
    }

    fn connects(&self, i: usize, port: u16) -> bool {
        let to = SocketAddr::from((host_ip(i), port));
        self.controller
            .run(|| TcpStream::connect_timeout(&to, Duration::from_millis(500)).is_ok())
            .unwrap()
    }

    /// Runs an Ansible program in the controller's namespace; its output, and the
    /// PLAY RECAP (of a playbook) as host -> (changed, unreachable, failed).
    fn ansible(&self, program: &str, args: &[&str]) -> (String, HashMap<String, [u32; 3]>) {
        let d = &self.dir;
        let out = Command::new("ip")
            .args(["netns", "exec", self.controller.name()])
            .arg(self.bin.join(program))
            .arg("-i")
            .arg(d.join("inventory.ini"))
            .args(args)
            .env("ANSIBLE_HOME", d.join("ansible"))
            .env("ANSIBLE_LOCAL_TEMP", d.join("ansible/tmp"))
            .env("ANSIBLE_REMOTE_TMP", d.join("remote"))
            .env("ANSIBLE_LIBRARY", d.join("library"))
            .env("ANSIBLE_SSH_CONTROL_PATH_DIR", d.join("cp"))
            .env("ANSIBLE_HOST_KEY_CHECKING", "False")
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_TIMEOUT", "5")
            .env_remove("SSH_CONNECTION")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut recap = HashMap::new();
        for line in text
            .lines()
            .skip_while(|l| !l.starts_with("PLAY RECAP"))
            .skip(1)
        {
            let Some((host, counts)) = line.split_once(" : ") else {
                continue;
            };
            let count = |key: &str| {
                counts
                    .split_whitespace()
                    .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            recap.insert(
                host.trim().to_string(),
                [count("changed"), count("unreachable"), count("failed")],
            );
        }
        (text, recap)
    }

    fn playbook(&self, args: &[&str]) -> (String, HashMap<String, [u32; 3]>) {
        let playbook = Path::new(env!("CARGO_MANIFEST_DIR")).join("ansible/fleet.yml");
        let mut all = vec![playbook.to_str().unwrap()];
        all.extend_from_slice(args);
        self.ansible("ansible-playbook", &all)
    }

    /// A host's rules without what changes by itself (comments, counters).
    fn rules(&self, i: usize) -> String {
        self.hosts[i].saved("iptables-save").unwrap()
    }

    /// Real connections from the controller, each compared with `decide`.
    fn probe_as(&self, i: usize, role: &str) {
        let policy = roles::policy(role).unwrap();
        for port in PROBED {
            let packet = Packet::tcp(controller_ip(i), port).dst(host_ip(i));
            let decided = policy.decide(&packet);
            assert_eq!(
                self.connects(i, port),
                decided.action() == fwdsl::Action::Allow,
                "host {i} ({role}) tcp {port}: decide says {:?} by `{}`",
                decided.action(),
                decided.rule.text
            );
        }
    }
}

#[test]
fn a_fleet_rolls_out_through_ansible_and_a_lockout_reverts_itself() {
    if !root() {
        return;
    }
    let Some(bin) = ansible_bin().filter(|_| Path::new("/usr/sbin/sshd").exists()) else {
        tests::skip("it needs .ci/venv (ansible-core) and openssh-server: run .ci/run");
        return;
    };
    let started = Instant::now();
    let fleet = Fleet::new(bin);
    let hosts = roles::NAMES.len();
    let foreign: Vec<String> = (0..hosts).map(|i| fleet.rules(i)).collect();

    // Check mode: every host would change, shows a diff, and nothing is applied.
    let (out, recap) = fleet.playbook(&["--check", "--diff"]);
    for (i, before) in foreign.iter().enumerate() {
        assert_eq!(recap.get(&format!("h{i}")).map(|r| r[0]), Some(1), "{out}");
        assert_eq!(&fleet.rules(i), before, "check mode changed host {i}");
    }
    assert!(out.contains("+-p tcp -m tcp --dport 443"), "{out}");

    // Apply: every host applied and confirmed; the kernel decides as `decide` says.
    let (out, recap) = fleet.playbook(&[]);
    for (i, role) in roles::NAMES.iter().enumerate() {
        assert_eq!(recap.get(&format!("h{i}")), Some(&[2, 0, 0]), "{out}");
        assert!(fleet.rules(i).contains("FWDSL-INPUT"));
        fleet.probe_as(i, role);
    }
    let (out, recap) = fleet.playbook(&[]);
    for i in 0..hosts {
        assert_eq!(
            recap.get(&format!("h{i}")),
            Some(&[0, 0, 0]),
            "second run: {out}"
        );
    }
    let applied: Vec<String> = (0..hosts).map(|i| fleet.rules(i)).collect();

    // A policy that cuts the controller's SSH: refused by the session guard...
    let lockout = fleet.dir.join("lockout.policy");
    std::fs::write(
        &lockout,
        "ssh 22 from 192.0.2.0/24;\nallow established;\nallow ssh src 192.0.2.0/24;\nallow icmp;\ndrop all;\n",
    )
    .unwrap();
    let file = format!("fwdsl_policy_file={}", lockout.display());
    let (out, recap) = fleet.playbook(&["-e", &file]);
    assert_eq!(recap.get("h0").map(|r| r[2]), Some(1), "{out}");
    assert!(out.contains("would drop the SSH session"), "{out}");
    assert!(!recap.contains_key("h1"), "serial: 1 went on: {out}");

    // ...and forced, the reconnect fails and the host reverts by itself.
    let window = 6;
    let rollout = Instant::now();
    let (out, recap) = fleet.playbook(&[
        "-e",
        &file,
        "-e",
        "fwdsl_force=true",
        "-e",
        &format!("fwdsl_confirm_timeout={window}"),
    ]);
    assert_eq!(
        recap.get("h0").map(|r| r[1]),
        Some(1),
        "not unreachable: {out}"
    );
    assert!(!recap.contains_key("h1"), "serial: 1 went on: {out}");
    while fleet.rules(0) != applied[0] {
        assert!(
            rollout.elapsed() < Duration::from_secs(window + 20),
            "host 0 did not revert: {}",
            fleet.rules(0)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    fleet.probe_as(0, roles::NAMES[0]);
    for (i, before) in applied.iter().enumerate().skip(1) {
        assert_eq!(&fleet.rules(i), before, "host {i} was touched");
    }

    // state: absent, ad hoc: fwdsl is gone from every host, the foreign rule stays.
    let (out, _) = fleet.ansible(
        "ansible",
        &["fleet", "-m", "provision", "-a", "state=absent"],
    );
    for (i, before) in foreign.iter().enumerate() {
        assert!(out.contains(&format!("h{i} | CHANGED")), "{out}");
        assert_eq!(&fleet.rules(i), before, "host {i}: {out}");
    }
    eprintln!("fleet test: {:.1} s", started.elapsed().as_secs_f64());
}
