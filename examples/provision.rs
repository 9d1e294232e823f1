//! A provisioning binary in the style fwdsl is made for: the host's policy is Rust code,
//! checked when this binary is compiled.
//!
//! ```text
//! cargo run --example provision                      # plan: what would be installed, how it decides (no root)
//! cargo run --example provision -- --sandbox         # apply in a throwaway network namespace and probe it (root)
//! cargo run --example provision -- --apply           # apply to this host (root)
//! cargo run --example provision -- --confirm 30      # apply, keep only if confirmed within 30 s
//! cargo run --example provision -- --apply --save    # and save where the distribution keeps rules
//! cargo run --example provision -- --policy FILE …   # a policy file instead of the built-in one
//! ```

use fwdsl::sandbox::Sandbox;
use fwdsl::{Family, Firewall, Packet, Policy, SaveTarget};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

/// The web server of the reference VPS guide, with its holes closed: replies come in
/// through `established` rather than trusting source ports 25 and 53.
fn builtin_policy() -> Policy {
    fwdsl::firewall! {
        allow established;
        allow in lo;
        allow ssh;
        allow http;
        allow https;
        allow smtp;
        allow icmp;
        drop all;
    }
}

#[derive(Default)]
struct Args {
    apply: bool,
    confirm: Option<u64>,
    save: bool,
    sandbox: bool,
    policy: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--apply" => args.apply = true,
            "--save" => args.save = true,
            "--sandbox" => args.sandbox = true,
            "--confirm" => {
                let secs = it.next().ok_or("--confirm needs a number of seconds")?;
                args.confirm = Some(
                    secs.parse()
                        .map_err(|_| format!("--confirm {secs}: not a number of seconds"))?,
                );
            }
            "--policy" => args.policy = Some(it.next().ok_or("--policy needs a file")?),
            other => {
                return Err(format!(
                    "unknown argument `{other}` (see the top of examples/provision.rs)"
                ))
            }
        }
    }
    Ok(args)
}

fn plan(policy: &Policy) {
    println!(
        "# fwdsl plan: {} rules (nothing is changed)\n",
        policy.rules().len()
    );
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
            d.index + 1,
            d.rule.text
        );
    }
}

fn confirm_on_stdin(secs: u64) -> impl FnOnce() -> bool + Send + 'static {
    println!("new rules are live: type `yes` within {secs} s to keep them");
    || {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).is_ok() && line.trim() == "yes"
    }
}

/// Applies in a throwaway namespace, shows the live rules, probes a few ports for real.
fn sandbox(policy: &Policy) -> Result<(), Box<dyn std::error::Error>> {
    let sb = Sandbox::new("fwdsl-provision")?;
    let ports = [22u16, 80, 443, 3306];
    let server: IpAddr = Sandbox::SERVER_V4.into();
    let _listeners = sb.server.run(|| {
        ports
            .iter()
            .map(|&p| TcpListener::bind((server, p)))
            .collect::<Result<Vec<_>, _>>()
    })??;
    let firewall = Firewall::new().namespaces_only().ssh_connection(None);
    let report = sb.server.run(|| firewall.apply(policy))??;
    println!("applied in namespace {}: {report:?}\n", sb.server.name());
    for status in sb.server.run(|| firewall.status())?? {
        println!(
            "# live {:?} rules in {}",
            status.family,
            status.chain.as_deref().unwrap_or("-")
        );
        for rule in &status.rules {
            println!("{}", rule.spec);
        }
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

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let policy = match &args.policy {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
            let policy = Policy::parse(&text)?;
            for warning in policy.warnings() {
                eprintln!("{path}: {warning}");
            }
            policy
        }
        None => builtin_policy(),
    };
    if args.sandbox {
        return sandbox(&policy);
    }
    let firewall = Firewall::new();
    if let Some(secs) = args.confirm {
        let report = firewall.apply_with_confirm(
            &policy,
            Duration::from_secs(secs),
            confirm_on_stdin(secs),
        )?;
        println!("kept: {report:?}");
    } else if args.apply {
        println!("{:?}", firewall.apply(&policy)?);
    } else if !args.save {
        plan(&policy);
    }
    if args.save {
        let report = firewall.save(&SaveTarget::detect())?;
        println!("saved {:?} (backups: {:?})", report.written, report.backups);
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
