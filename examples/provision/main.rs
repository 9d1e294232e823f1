//! A provisioning binary in the style fwdsl is made for: the host's policy is Rust code,
//! checked when this binary is compiled.
//!
//! ```text
//! cargo run --example provision                      # plan: what would be installed, how it decides (no root)
//! cargo run --example provision -- --sandbox         # apply in a throwaway network namespace and probe it (root)
//! cargo run --example provision -- --apply           # apply to this host (root)
//! cargo run --example provision -- --confirm 30      # apply, keep only if confirmed within 30 s
//! cargo run --example provision -- --apply --save    # and save where the distribution keeps rules
//! cargo run --example provision -- --status          # what fwdsl has installed (root)
//! cargo run --example provision -- --flush           # the guide's `iptables -F`: says what is now open
//! cargo run --example provision -- --lockdown        # the fail-closed flush: SSH access and `drop all`
//! cargo run --example provision -- --policy FILE …   # a policy file instead of the built-in one
//! cargo run --example provision -- --role db …       # another role compiled in (web, db, bastion)
//! provision ARGS.json                                # an Ansible module (see README, "A fleet")
//! ```

mod ansible;
mod roles;

use clap::Parser;
use fwdsl::sandbox::Sandbox;
use fwdsl::{Backend, Error, Family, Firewall, Packet, Policy, SaveTarget};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The policy used when neither `--policy` nor `--role` names one.
fn builtin_policy() -> Policy {
    roles::policy("web").expect("the web role is compiled in")
}

/// Provision this host's firewall with fwdsl. Without an action it only plans: it
/// prints what it would load and how the policy decides a few packets, and changes
/// nothing (no root needed).
#[derive(Debug, Parser)]
#[command(name = "provision", version, about)]
struct Args {
    /// A policy file to use instead of the policy built into this binary.
    #[arg(long, value_name = "FILE")]
    policy: Option<String>,
    /// A role's policy compiled into this binary instead of the default (`web`).
    #[arg(long, value_name = "ROLE", conflicts_with = "policy",
          value_parser = clap::builder::PossibleValuesParser::new(roles::NAMES))]
    role: Option<String>,
    /// Apply the policy in a throwaway network namespace, list the live rules and probe
    /// them with real connections (root; the host's own firewall is not touched).
    #[arg(long, conflicts_with_all = ["apply", "confirm", "status"])]
    sandbox: bool,
    /// Apply the policy to this host (root).
    #[arg(long, conflicts_with_all = ["confirm", "status"])]
    apply: bool,
    /// Apply the policy to this host and keep it only if `yes` is typed within SECS
    /// seconds; otherwise the previous rules come back.
    #[arg(long, value_name = "SECS", conflicts_with = "status")]
    confirm: Option<u64>,
    /// Show what fwdsl has installed on this host (root).
    #[arg(long)]
    status: bool,
    /// Remove every fwdsl rule but keep the chains, as the guide's `iptables -F` does:
    /// the host is then as open as its built-in chains' policies (root).
    #[arg(long, conflicts_with_all = ["sandbox", "apply", "confirm", "status", "lockdown"])]
    flush: bool,
    /// The fail-closed flush: only the policy's SSH access and `drop all` stay (root).
    #[arg(long, conflicts_with_all = ["sandbox", "apply", "confirm", "status"])]
    lockdown: bool,
    /// Then save the running rules where the distribution loads them at boot (root).
    #[arg(long, conflicts_with = "sandbox")]
    save: bool,
    /// What to change the firewall with: `auto` (iptables where it runs, else nft),
    /// `iptables` or `nftables`.
    #[arg(long, value_name = "BACKEND", default_value = "auto",
          value_parser = ["auto", "iptables", "nftables"])]
    backend: String,
}

/// `auto` (fwdsl decides on each host), or a backend by name.
fn backend(name: &str) -> Result<Option<Backend>, String> {
    match name {
        "auto" => Ok(None),
        name => name.parse().map(Some),
    }
}

/// The firewall handle on `backend`, or on the one fwdsl detects.
fn firewall(backend: Option<Backend>) -> Firewall {
    match backend {
        Some(backend) => Firewall::new().backend(backend),
        None => Firewall::new(),
    }
}

fn plan(policy: &Policy) {
    println!(
        "# fwdsl plan: {} rules (nothing is changed)\n",
        policy.rules().len()
    );
    if !policy.assertions().is_empty() {
        println!("# invariants this policy keeps (proved when it was checked)");
        for assertion in policy.assertions() {
            println!("{assertion};");
        }
        println!();
    }
    // A policy file is reviewed against the built-in policy: exactly what it opens.
    if *policy != builtin_policy() {
        println!("# what this policy opens beyond the built-in one");
        print!("{}", policy.opens_beyond(&builtin_policy()));
        println!();
    }
    let other_ports =
        fwdsl::Query::parse("tcp 1-21, 23-24, 26-79, 81-442, 444-65535 src 0.0.0.0/0 in eth0")
            .expect("a valid query");
    match policy.accepts(&other_ports) {
        None => println!(
            "# no TCP port but ssh, smtp and the web's is reachable from anywhere on eth0\n"
        ),
        Some(p) => println!(
            "# another TCP port is reachable, e.g. tcp port {}\n",
            p.dport
        ),
    }
    for family in [Family::V4, Family::V6] {
        let tool = if family == Family::V4 {
            "iptables-restore --noflush"
        } else {
            "ip6tables-restore --noflush"
        };
        println!("# {tool}");
        print!("{}", policy.to_restore(family));
        println!();
    }
    println!("# how the policy decides");
    let outside = [198, 51, 100, 7];
    let probes = [
        ("ssh from anywhere", Packet::tcp(outside, 22)),
        ("web", Packet::tcp(outside, 443)),
        ("mysql from outside", Packet::tcp(outside, 3306)),
        (
            "dns reply",
            Packet::udp([192, 0, 2, 53], 41000).sport(53).established(),
        ),
        (
            "forged dns 'reply'",
            Packet::udp([192, 0, 2, 53], 41000).sport(53),
        ),
    ];
    for (what, packet) in probes {
        let d = policy.decide(&packet);
        println!(
            "{what:<20} -> {:?} by rule {} `{}`",
            d.action(),
            d.number().map_or("(built in)".into(), |n| n.to_string()),
            d.rule.text
        );
    }
    // The guide's first step, `netstat -an`, against the policy: reads /proc only.
    println!("\n# what this host's listening sockets would be exposed to");
    match Firewall::new().exposure(policy) {
        Ok(exposure) => print!("{exposure}"),
        Err(e) => println!("(cannot read this host's sockets: {e})"),
    }
}

/// Asks for `yes` on standard input; `ended` is set when the input ends first (so the
/// operator is told that, rather than that time ran out).
fn confirm_on_stdin(secs: u64, ended: Arc<AtomicBool>) -> impl FnOnce() -> bool + Send + 'static {
    println!("new rules are live: type `yes` within {secs} s to keep them");
    move || {
        let mut line = String::new();
        match std::io::stdin().read_line(&mut line) {
            Ok(0) | Err(_) => {
                ended.store(true, Ordering::SeqCst);
                false
            }
            Ok(_) => line.trim() == "yes",
        }
    }
}

/// Applies in a throwaway namespace, shows the live rules, probes a few ports for real.
fn sandbox(policy: &Policy, backend: Option<Backend>) -> Result<(), Box<dyn std::error::Error>> {
    let sb = Sandbox::new("fwdsl-provision")?;
    let ports = [22u16, 80, 443, 3306];
    let server: IpAddr = Sandbox::SERVER_V4.into();
    let _listeners = sb.server.run(|| {
        ports
            .iter()
            .map(|&p| TcpListener::bind((server, p)))
            .collect::<Result<Vec<_>, _>>()
    })??;
    let firewall = firewall(backend).namespaces_only().ssh_connection(None);
    let report = sb.server.run(|| firewall.apply(policy))??;
    println!("namespace {}: {report}", sb.server.name());
    for status in sb.server.run(|| firewall.status())?? {
        println!("{status}");
    }
    println!("\n# real probes from namespace {}", sb.client.name());
    for port in ports {
        let connected = sb.client.run(|| {
            TcpStream::connect_timeout(&SocketAddr::new(server, port), Duration::from_millis(700))
                .is_ok()
        })?;
        let simulated = policy.decide(&Packet::tcp(Sandbox::CLIENT_V4, port).dst(server));
        println!(
            "tcp {port:<5} kernel: {:<9} simulator: {:?} by `{}`",
            if connected { "connected" } else { "no answer" },
            simulated.action(),
            simulated.rule.text
        );
    }
    let ping = sb
        .client
        .exec("ping", &["-n", "-c", "1", "-W", "1", &server.to_string()])
        .is_ok();
    println!(
        "ping      kernel: {}",
        if ping { "answered" } else { "no answer" }
    );
    println!(
        "\nremoving namespaces {} and {}",
        sb.server.name(),
        sb.client.name()
    );
    Ok(())
}

/// Reads a policy file (and the files it includes); its problems are printed
/// compiler-style, file name first.
fn read_policy(path: &str) -> Result<Policy, String> {
    let policy = Policy::from_file(path).map_err(|e| e.to_string())?;
    for warning in policy.warnings() {
        eprintln!("{warning}");
    }
    Ok(policy)
}

fn run(args: Args) -> Result<(), String> {
    let policy = match &args.policy {
        Some(path) => read_policy(path)?,
        None => args.role.as_deref().map_or_else(builtin_policy, |r| {
            roles::policy(r).expect("clap checked the name")
        }),
    };
    let backend = backend(&args.backend)?;
    if args.sandbox {
        return sandbox(&policy, backend).map_err(|e| e.to_string());
    }
    let firewall = firewall(backend);
    if args.flush {
        let flushed = firewall.flush().map_err(|e| e.to_string())?;
        print!("{flushed}");
        if flushed.host_is_open() {
            eprintln!(
                "warning: the host is now OPEN where shown; `--lockdown` keeps only SSH instead"
            );
        }
    } else if args.lockdown {
        print!(
            "{}",
            firewall
                .flush_to_access(&policy)
                .map_err(|e| e.to_string())?
        );
    } else if args.status {
        for status in firewall.status().map_err(|e| e.to_string())? {
            println!("{status}");
        }
    } else if let Some(secs) = args.confirm {
        let ended = Arc::new(AtomicBool::new(false));
        let confirm = confirm_on_stdin(secs, ended.clone());
        match firewall.apply_with_confirm(&policy, Duration::from_secs(secs), confirm) {
            Ok(report) => println!("kept. {report}"),
            Err(Error::NotConfirmed(_)) if ended.load(Ordering::SeqCst) => {
                return Err(
                    "standard input ended before `yes` was typed: the previous rules are back"
                        .into(),
                )
            }
            Err(e) => return Err(e.to_string()),
        }
    } else if args.apply {
        print!("{}", firewall.apply(&policy).map_err(|e| e.to_string())?);
    } else if !args.save {
        plan(&policy);
    }
    if args.save {
        print!(
            "{}",
            firewall
                .save(&SaveTarget::detect())
                .map_err(|e| e.to_string())?
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    // Printing into a closed pipe (`provision | head -3`) ends the program quietly, as
    // it does for other Unix tools, instead of panicking.
    // SAFETY: restores the default disposition of one signal before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    // Ansible runs a binary module with one argument: the path of its JSON arguments.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let [_, file] = &argv[..] {
        if !file.to_string_lossy().starts_with('-') {
            return ansible::main(file.as_ref());
        }
    }
    // Usage errors exit with 2, `--help` and `--version` with 0 (clap's convention).
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.contains(": error: ") {
                // A policy file's problems already say `error:` on every line.
                eprintln!("{e}");
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::FAILURE
        }
    }
}
