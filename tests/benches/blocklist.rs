fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .iter()
        .find_map(|a| a.strip_prefix("--n="))
        .unwrap()
        .parse()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("drop.txt"), tests::blocklist(n, 7)).unwrap();
    let base = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .unwrap()
        .to_string();
    println!("after generating: {base}");
    std::fs::write(
        dir.path().join("p.policy"),
        "drop src [file \"drop.txt\"];\nallow ssh;\nallow tcp 80;\ndrop all;\n",
    )
    .unwrap();
    let t = std::time::Instant::now();
    let p = fwdsl::Policy::from_file(dir.path().join("p.policy"));
    println!(
        "{n}: {:?} ok={} hwm={}",
        t.elapsed(),
        p.is_ok(),
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find(|l| l.starts_with("VmHWM"))
            .unwrap()
    );
    if let Err(e) = p {
        println!("{}", e.to_string().chars().take(300).collect::<String>());
    }
}
