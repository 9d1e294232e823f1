//! Compile-time cost of `firewall!`: a binary crate whose `firewall!` holds N rules,
//! against the same crate with the same rules written out as plain data (a `static`
//! array of `fwdsl::Rule` literals), built side by side with the same toolchain, the
//! same dependencies and a shared target directory. Also the in-process cost of the
//! check itself (`fwdsl_core::compile` on the macro's tokens), which is what the macro
//! spends beyond parsing Rust tokens.
//!
//! Run: `cargo bench -p tests --bench compile` (sizes: `FWDSL_BENCH_SIZES=100,1000`).

use fwdsl::{Action, Policy, Rule};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 3;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn manifest(name: &str) -> String {
    let root = workspace();
    format!(
        "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\nfwdsl = {{ path = \"{}\" }}\nipnet = \"2\"\n\n[workspace]\n",
        root.join("fwdsl").display()
    )
}

fn net(net: &ipnet::IpNet) -> String {
    match net {
        ipnet::IpNet::V4(n) => {
            let [a, b, c, d] = n.addr().octets();
            format!(
                "IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new({a}, {b}, {c}, {d}), {}))",
                n.prefix_len()
            )
        }
        ipnet::IpNet::V6(n) => format!(
            "IpNet::V6(Ipv6Net::new_assert(Ipv6Addr::from_bits({}), {}))",
            u128::from(n.addr()),
            n.prefix_len()
        ),
    }
}

fn nets(nets: &[ipnet::IpNet]) -> String {
    let list: Vec<String> = nets.iter().map(net).collect();
    format!("Cow::Borrowed(&[{}])", list.join(", "))
}

fn ports(ports: &[fwdsl::PortRange]) -> String {
    let list: Vec<String> = ports
        .iter()
        .map(|p| format!("PortRange::new({}, {})", p.first, p.last))
        .collect();
    format!("Cow::Borrowed(&[{}])", list.join(", "))
}

/// The rule as a Rust literal of the public model: what a user would write by hand.
fn literal(rule: &Rule) -> String {
    let m = &rule.matches;
    let action = match rule.action {
        Action::Allow => "Allow",
        Action::Drop => "Drop",
        Action::Reject => "Reject",
        Action::Log => "Log",
    };
    format!(
        "Rule {{ action: Action::{action}, limit: None, log: None, matches: Matches {{ protocols: ProtoSet::from_bits({}), dports: {}, sports: {}, src: {}, dst: {}, src_set: None, dst_set: None, iface: None, oface: None, icmp_type: None, protocol: None, state: {} }}, direction: Direction::In, text: Cow::Borrowed({:?}), comment: None, line: {} }}",
        m.protocols.bits(),
        ports(&m.dports),
        ports(&m.sports),
        nets(&m.src),
        nets(&m.dst),
        match m.state {
            None => "None".to_string(),
            Some(state) => format!("Some(ConnState::{state:?})"),
        },
        rule.text,
        rule.line
    )
}

fn write_crates(dir: &Path, n: usize) -> (PathBuf, PathBuf) {
    let text = tests::large_policy(n);
    let policy = Policy::parse(&text).expect("generated policy");
    let with_macro = dir.join(format!("macro-{n}"));
    let with_data = dir.join(format!("data-{n}"));
    for (krate, main) in [
        (
            &with_macro,
            format!("fn main() {{\n    let policy = fwdsl::firewall! {{\n{text}    }};\n    println!(\"{{}}\", policy.rules().len());\n}}\n"),
        ),
        (&with_data, {
            let mut src = String::from(
                "#![allow(unused_imports)]\nuse fwdsl::{Action, ConnState, Direction, Matches, PortRange, ProtoSet, Rule};\nuse ipnet::{IpNet, Ipv4Net, Ipv6Net};\nuse std::borrow::Cow;\nuse std::net::{Ipv4Addr, Ipv6Addr};\n\n",
            );
            writeln!(src, "static RULES: [Rule; {n}] = [").unwrap();
            for rule in policy.rules() {
                writeln!(src, "    {},", literal(rule)).unwrap();
            }
            src.push_str("];\n\nfn main() {\n    println!(\"{}\", RULES.len());\n}\n");
            src
        }),
    ] {
        std::fs::create_dir_all(krate.join("src")).unwrap();
        let name = krate.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::write(krate.join("Cargo.toml"), manifest(&name)).unwrap();
        std::fs::write(krate.join("src/main.rs"), main).unwrap();
        // The workspace's lock file: the same dependency versions, resolvable offline.
        std::fs::copy(workspace().join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    }
    (with_macro, with_data)
}

/// Best of `RUNS` full rebuilds of the crate itself (its dependencies stay built).
fn build_time(krate: &Path, target: &Path, command: &str) -> Duration {
    let build = || {
        // A touched source makes cargo rebuild the crate and nothing else.
        let main = krate.join("src/main.rs");
        let text = std::fs::read_to_string(&main).unwrap();
        std::fs::write(&main, text).unwrap();
        let start = Instant::now();
        let status = Command::new(env!("CARGO"))
            .args([command, "--offline", "--quiet", "--manifest-path"])
            .arg(krate.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", target)
            .status()
            .expect("cargo");
        assert!(status.success(), "building {}", krate.display());
        start.elapsed()
    };
    build(); // warm: dependencies
    (0..tests::bench::runs(RUNS))
        .map(|_| build())
        .min()
        .unwrap()
}

fn secs(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

fn main() {
    let sizes = tests::bench::sizes("FWDSL_BENCH_SIZES", &[100, 1000, 10000]);
    let dir = workspace().join("target/fwdsl-compile-bench");
    let target = dir.join("target");
    println!("| rules | the check itself, release build (ms) | cargo check: macro (s) | cargo check: data (s) | ratio | cargo build: macro (s) | cargo build: data (s) | ratio |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in sizes {
        let (with_macro, with_data) = write_crates(&dir, n);
        let tokens = fwdsl_core::lex(&tests::large_policy(n)).unwrap();
        let start = Instant::now();
        let compiled = fwdsl_core::compile(&tokens);
        let check = start.elapsed();
        assert!(!compiled.has_errors());
        let check_macro = build_time(&with_macro, &target, "check");
        let check_data = build_time(&with_data, &target, "check");
        let build_macro = build_time(&with_macro, &target, "build");
        let build_data = build_time(&with_data, &target, "build");
        println!(
            "| {n} | {:.1} | {} | {} | {:.2} | {} | {} | {:.2} |",
            check.as_secs_f64() * 1e3,
            secs(check_macro),
            secs(check_data),
            check_macro.as_secs_f64() / check_data.as_secs_f64(),
            secs(build_macro),
            secs(build_data),
            build_macro.as_secs_f64() / build_data.as_secs_f64()
        );
    }
}
