//! Whatever the layout, parse + check time grows linearly with the input and memory stays
//! bounded: the same rules on separate lines and on one line, a long address list, and
//! rules whose lists multiply (ports × source ports × sources × destinations), which
//! fwdsl refuses with an error rather than expanding beyond its budget. Also the inputs
//! built to cost the most: thousands of copies of one rule, nested port ranges each
//! inside the one before, and a "diamond" of policy files each including the next
//! twice. Each case runs in a process of its own, so that its peak memory (VmHWM) is
//! its own.
//! Prints a table; run with `cargo bench -p tests --bench parse_scale`.

use fwdsl::Policy;
use std::process::Command;
use std::time::Instant;
use tests::bench::hwm_kib;

/// `n` rules, one per line or all on one line.
fn rules(n: usize, one_line: bool) -> String {
    let sep = if one_line { " " } else { "\n" };
    tests::large_policy(n).replace('\n', sep)
}

/// One rule with `n` ports, `n` source ports, `n` sources and `n` destinations: n⁴
/// combinations (25 is the largest `n` under the budget of 400,000 for lists that
/// multiply).
fn multiplying(n: usize) -> String {
    let ports: Vec<String> = (0..n).map(|i| (1000 + 2 * i).to_string()).collect();
    let nets = |b: usize| {
        (0..n)
            .map(|i| format!("10.{b}.{}.{}", i / 200, 2 * (i % 100)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "allow ssh;\nallow tcp {} sport {} src [{}] dst [{}];\ndrop all;\n",
        ports.join(", "),
        ports.join(", "),
        nets(1),
        nets(2)
    )
}

/// One rule with an address list of `n` networks, on one line.
fn list(n: usize) -> String {
    let nets: Vec<String> = (0..n as u32)
        .map(|i| std::net::Ipv4Addr::from(0x6440_0000 + i).to_string())
        .collect();
    format!("allow ssh;\ndrop src [{}];\ndrop all;\n", nets.join(", "))
}

/// `n` copies of one rule.
fn copies(n: usize) -> String {
    format!("allow ssh;\n{}drop all;\n", "allow tcp 80;\n".repeat(n))
}

/// `n` port ranges, each inside the one before.
fn nested(n: usize) -> String {
    let mut text = String::from("allow ssh;\n");
    for i in 0..n {
        text.push_str(&format!(
            "allow tcp {}-{};\n",
            1000 + i % 20_000,
            64_000 - i % 20_000
        ));
    }
    text + "drop all;\n"
}

/// `n` policy files, each including the next twice (2^n copies if expanded), in a
/// temporary directory; returns the first file's path.
fn diamond(n: usize) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fwdsl-diamond-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..n {
        let text = match i + 1 < n {
            true => format!("include \"{0}.fw\";\ninclude \"{0}.fw\";\n", i + 1),
            false => "allow ssh;\ndrop all;\n".to_string(),
        };
        std::fs::write(dir.join(format!("{i}.fw")), text).unwrap();
    }
    dir.join("0.fw")
}

fn case(name: &str) -> String {
    let (kind, n) = name.split_once(':').expect("kind:n");
    let n: usize = n.parse().unwrap();
    match kind {
        "lines" => rules(n, false),
        "one-line" => rules(n, true),
        "list" => list(n),
        "multiply" => multiplying(n),
        "copies" => copies(n),
        "nested" => nested(n),
        _ => panic!("unknown case {kind}"),
    }
}

/// In the child: parse and check one case, print `bytes ms hwm_kib outcome`.
fn run_case(name: &str) {
    let (text, start, result) = match name.strip_prefix("diamond:") {
        Some(n) => {
            let first = diamond(n.parse().unwrap());
            let start = Instant::now();
            let result = Policy::from_file(&first);
            let _ = std::fs::remove_dir_all(first.parent().unwrap());
            (String::new(), start, result)
        }
        None => {
            let text = case(name);
            let start = Instant::now();
            let result = Policy::parse(&text);
            (text, start, result)
        }
    };
    let elapsed = start.elapsed();
    let outcome = match &result {
        Ok(p) => format!("ok, {} rules", p.rules().len()),
        Err(e) if e.to_string().contains("included already") => {
            "refused at the second include".to_string()
        }
        // The message's last number is the rule's combinations.
        Err(e) => format!(
            "refused at once ({} combinations)",
            e.to_string()
                .rsplit("= ")
                .next()
                .and_then(|tail| tail.split_whitespace().next())
                .unwrap_or("?")
        ),
    };
    println!(
        "{} {:.1} {} {outcome}",
        text.len(),
        elapsed.as_secs_f64() * 1e3,
        hwm_kib()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--case") {
        run_case(&args[i + 1]);
        return;
    }
    let cases = [
        "lines:10000",
        "one-line:10000",
        "lines:50000",
        "one-line:50000",
        "list:10000",
        "list:100000",
        "multiply:8",
        "multiply:16",
        "multiply:23",
        "multiply:25",
        "multiply:37",
        "multiply:100",
        "copies:4096",
        "copies:60000",
        "nested:20000",
        "diamond:13",
    ];
    let cases = match tests::bench::smoke() {
        true => &cases[..1],
        false => &cases[..],
    };
    println!(
        "| case | input (KB) | parse + check (ms) | µs per KB | peak memory (MiB) | outcome |"
    );
    println!("|---|---:|---:|---:|---:|---|");
    for name in cases {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--case", name])
            .output()
            .expect("run a case");
        let line = String::from_utf8_lossy(&out.stdout);
        let mut fields = line.trim().splitn(4, ' ');
        let (Some(bytes), Some(ms), Some(hwm), Some(outcome)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            println!(
                "| {name} | | | | | failed: {} |",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
            continue;
        };
        let kb = (bytes.parse::<f64>().unwrap() / 1024.0).max(0.001);
        let ms: f64 = ms.parse().unwrap();
        println!(
            "| {name} | {kb:.0} | {ms:.1} | {:.1} | {:.1} | {outcome} |",
            ms * 1e3 / kb,
            hwm.parse::<f64>().unwrap() / 1024.0
        );
    }
}
