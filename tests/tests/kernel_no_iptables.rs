//! A host without iptables (Debian 13 installs none, RHEL 10 ships none): fwdsl finds
//! nft and does all of its work through it. The missing programs are hidden from a
//! child process only, inside a private mount namespace of its own (`unshare -m`):
//! `/usr/sbin` is replaced there by a copy of itself without iptables, ip6tables and
//! ipset. The machine's own files and firewall are never touched; the child works in
//! the sandbox's server namespace, and this process probes it from the client's.

use fwdsl::sandbox::Sandbox;
use fwdsl::{Backend, Error, Firewall, SaveTarget};
use std::path::PathBuf;
use tests::child;
use tests::probe::{sandbox, saved_rules, Outcome, Probe, Servers};

const TEST: &str = "without_iptables_fwdsl_speaks_nftables";

/// Runs what follows it with iptables, ip6tables and ipset gone: a private mount
/// namespace, `/usr/sbin` (and so `/sbin`) bind-mounted aside, a tmpfs in its place
/// holding links to everything else.
const HIDE: &str = r#"
set -e
aside=$(mktemp -d)
mount --bind /usr/sbin "$aside"
mount -t tmpfs tmpfs /usr/sbin
for f in "$aside"/*; do
    case "${f##*/}" in
        iptables*|ip6tables*|ipset*|xtables*) ;;
        *) ln -s "$f" "/usr/sbin/${f##*/}" ;;
    esac
done
exec "$@"
"#;

fn hidden() -> Vec<String> {
    [
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        HIDE,
        "hide",
    ]
    .map(String::from)
    .to_vec()
}

/// The handle of the child: no backend named, so fwdsl picks one itself.
fn firewall() -> Firewall {
    Firewall::new().namespaces_only().ssh_connection(None)
}

fn policy() -> fwdsl::Policy {
    fwdsl::firewall! { allow ssh; allow established; allow tcp 8080 src 192.0.2.2; drop all; }
}

/// The child, in the phase `FWDSL_PHASE` names.
fn child_work(dir: PathBuf) {
    assert!(
        std::process::Command::new("iptables")
            .arg("--version")
            .status()
            .is_err(),
        "iptables is still there"
    );
    let fw = firewall();
    assert_eq!(fw.resolved_backend(), Backend::Nftables);
    let target = SaveTarget::in_dir(&dir);
    match std::env::var("FWDSL_PHASE").as_deref() {
        Ok("apply") => {
            // Asked for iptables by name, fwdsl says what is missing and changes nothing.
            let err = fw
                .clone()
                .backend(Backend::Iptables)
                .apply(&policy())
                .unwrap_err();
            assert!(
                matches!(&err, Error::ProgramMissing { program, .. } if program == "iptables"),
                "{err}"
            );
            let report = fw.apply(&policy()).expect("apply");
            assert_eq!(report.backend, Backend::Nftables);
            let status = fw.status().expect("status");
            assert_eq!(status.backend, Backend::Nftables);
            assert!(status.iter().all(|s| s.hooked), "{status}");
            let plan = fw.plan(&policy()).expect("plan");
            assert!(
                plan.iter().all(|p| p.add.is_empty() && p.remove.is_empty()),
                "{plan}"
            );
            let saved = fw.save(&target).expect("save");
            for command in saved.boot_commands() {
                assert!(
                    ["nft", "grep"].contains(&command[0].as_str()),
                    "{command:?}"
                );
            }
        }
        Ok("uninstall") => {
            fw.restore(&target).expect("restore");
            fw.uninstall().expect("uninstall");
            assert!(fw
                .status()
                .expect("status")
                .iter()
                .all(|s| s.rules.is_empty()));
        }
        other => panic!("no such phase {other:?}"),
    }
    println!("child: ok");
}

#[test]
fn without_iptables_fwdsl_speaks_nftables() {
    if child::role().as_deref() == Some(TEST) {
        return child_work(std::env::var("FWDSL_DIR").unwrap().into());
    }
    let Some(sb) = sandbox("fwdsl-noipt") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let phase = |phase: &str| {
        let env = [
            ("FWDSL_PHASE", phase.to_string()),
            ("FWDSL_DIR", dir.path().display().to_string()),
        ];
        let (passed, output) = child::finish(child::spawn(&sb.server, TEST, &hidden(), &env));
        assert!(passed && output.contains("child: ok"), "{phase}:\n{output}");
    };
    phase("apply");
    // The kernel judges what the child installed.
    let servers = Servers::start(&sb, &[8080], &[]);
    let web = |src: std::net::Ipv4Addr| Probe::Tcp {
        src: src.into(),
        dst: Sandbox::SERVER_V4.into(),
        port: 8080,
    };
    web(Sandbox::CLIENT_V4).check(&sb, &servers, &policy(), Outcome::Delivered);
    web(Sandbox::CLIENT_V4_ALT).check(&sb, &servers, &policy(), Outcome::Dropped);
    assert!(!saved_rules(&sb, "iptables-save").contains("fwdsl"));
    assert!(std::fs::read_to_string(dir.path().join("fwdsl.nft"))
        .unwrap()
        .contains("table inet fwdsl {"));
    phase("uninstall");
    let left = sb.server.exec("nft", &["list", "ruleset"]).unwrap();
    assert!(!String::from_utf8_lossy(&left.stdout).contains("fwdsl"));
}
