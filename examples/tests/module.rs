//! The provision binary as Ansible runs it: one argument, a JSON arguments file; one
//! JSON object back. Every run changes only a network namespace this test creates.

mod common;

use common::{provision, root};
use fwdsl::sandbox::Netns;
use serde_json::Value;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Runs the module in `ns` with `args` (a JSON object), as Ansible would; returns its
/// reply, checked to be the one JSON object the protocol allows, and whether it failed.
fn module(ns: &Netns, args: &str) -> Value {
    static RUN: AtomicUsize = AtomicUsize::new(0);
    let file = std::env::temp_dir().join(format!(
        "fwdsl-module-{}-{}.json",
        std::process::id(),
        RUN.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::write(&file, args).unwrap();
    let out = Command::new("ip")
        .args(["netns", "exec", ns.name()])
        .arg(provision().get_program())
        .arg(&file)
        .env_remove("SSH_CONNECTION")
        .output()
        .unwrap();
    std::fs::remove_file(&file).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let reply: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not one JSON object ({e}): {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(reply["failed"] == true, !out.status.success(), "{reply}");
    reply
}

/// Runs the module outside any namespace: only for arguments it refuses before it
/// looks at a firewall.
fn refused(args: &str) -> String {
    let file = std::env::temp_dir().join(format!("fwdsl-module-args-{}.json", std::process::id()));
    std::fs::write(&file, args).unwrap();
    let out = provision().arg(&file).output().unwrap();
    std::fs::remove_file(&file).unwrap();
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{reply}");
    assert_eq!(reply["failed"], true, "{reply}");
    assert_eq!(reply["changed"], false, "{reply}");
    reply["msg"].as_str().unwrap().to_string()
}

#[test]
fn bad_arguments_are_refused_all_at_once() {
    let e = refused(r#"{"role": "mail", "confirm_timeout": 0, "save": "maybe"}"#);
    assert!(e.contains("role `mail` is not compiled"), "{e}");
    assert!(e.contains("confirm_timeout must be 1 to 3600"), "{e}");
    assert!(e.contains("save must be a boolean, not `maybe`"), "{e}");
    let e = refused(r#"{"role": "web", "ports": [22], "_ansible_verbosity": 0}"#);
    assert!(
        e.starts_with("Unsupported parameters for (provision) module: ports."),
        "{e}"
    );
    for (args, says) in [
        (r#"{}"#, "needs a role or a policy_file"),
        (
            r#"{"role": "web", "policy_file": "/p"}"#,
            "mutually exclusive",
        ),
        (r#"{"state": "gone"}"#, "state must be one of"),
        (r#"{"confirm": "yes", "role": "web"}"#, "it takes no role"),
        (
            r#"{"state": "absent", "confirm_timeout": "5"}"#,
            "state=present only",
        ),
        (r#"[1]"#, "not a JSON object"),
        (
            r#"{"role": "web", "backend": "pf"}"#,
            "`pf` is no backend: iptables or nftables",
        ),
        (
            r#"{"role": "web", "confirm_timeout": 9, "save": true}"#,
            "not yet confirmed",
        ),
    ] {
        let e = refused(args);
        assert!(e.contains(says), "{args}: {e}");
    }
}

fn rules(ns: &Netns) -> String {
    ns.saved("iptables-save").unwrap()
}

#[test]
fn check_mode_apply_again_and_absent() {
    if !root() {
        return;
    }
    let ns = Netns::create("fwdsl-module").unwrap();
    ns.exec(
        "iptables",
        &["-A", "INPUT", "-s", "203.0.113.9", "-j", "DROP"],
    )
    .unwrap();
    let untouched = rules(&ns);

    let check = module(
        &ns,
        r#"{"role": "web", "_ansible_check_mode": true, "_ansible_diff": "yes"}"#,
    );
    assert_eq!(check["changed"], true, "{check}");
    assert_eq!(check["diff"]["before"], "", "{check}");
    let after = check["diff"]["after"].as_str().unwrap();
    assert!(after.contains("# iptables FWDSL-INPUT"), "{after}");
    assert!(after.contains("--dport 443"), "{after}");
    assert_eq!(rules(&ns), untouched, "check mode changed the rules");
    // Structured results beside msg: the rules per chain, and what listens (nothing in
    // a fresh namespace, so each allowed port is unused).
    let input = check["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["family"] == "ipv4" && c["direction"] == "input")
        .unwrap();
    assert!(
        input["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("--dport 443")),
        "{check}"
    );
    assert_eq!(check["exposure"]["world"], serde_json::json!([]), "{check}");
    assert!(
        !check["exposure"]["unused"].as_array().unwrap().is_empty(),
        "{check}"
    );

    let apply = module(&ns, r#"{"role": "web"}"#);
    assert_eq!(apply["changed"], true, "{apply}");
    assert!(rules(&ns).contains("--dport 443"));
    for again in [
        r#"{"role": "web"}"#,
        r#"{"role": "web", "_ansible_check_mode": true}"#,
    ] {
        let reply = module(&ns, again);
        assert_eq!(reply["changed"], false, "{again}: {reply}");
    }

    // Another role: the diff shows what goes and what comes.
    let db = module(
        &ns,
        r#"{"role": "db", "_ansible_check_mode": true, "_ansible_diff": true}"#,
    );
    assert_eq!(db["changed"], true, "{db}");
    assert!(db["diff"]["before"]
        .as_str()
        .unwrap()
        .contains("--dport 443"));
    assert!(db["diff"]["after"]
        .as_str()
        .unwrap()
        .contains("--dport 5432"));
    assert!(!db["diff"]["after"]
        .as_str()
        .unwrap()
        .contains("--dport 443"));

    let check_absent = module(&ns, r#"{"state": "absent", "_ansible_check_mode": true}"#);
    assert_eq!(check_absent["changed"], true, "{check_absent}");
    assert!(rules(&ns).contains("FWDSL"));
    let absent = module(&ns, r#"{"state": "absent"}"#);
    assert_eq!(absent["changed"], true, "{absent}");
    assert_eq!(
        rules(&ns),
        untouched,
        "foreign rules are kept, fwdsl's are gone"
    );
    let again = module(&ns, r#"{"state": "absent"}"#);
    assert_eq!(again["changed"], false, "{again}");
}

/// `backend: nftables`: the same module, fwdsl's own nftables table; the diff of a
/// policy that is live shows nothing to change.
#[test]
fn the_nftables_backend_by_argument() {
    if !root() {
        return;
    }
    let ns = Netns::create("fwdsl-modnft").unwrap();
    let table = |ns: &Netns| {
        ns.exec("nft", &["list", "table", "inet", "fwdsl"])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let check = module(
        &ns,
        r#"{"role": "web", "backend": "nftables", "_ansible_check_mode": true, "_ansible_diff": true}"#,
    );
    assert_eq!(check["changed"], true, "{check}");
    let after = check["diff"]["after"].as_str().unwrap();
    assert!(after.starts_with("# nft inet fwdsl in"), "{after}");
    assert!(table(&ns).is_empty(), "check mode changed the rules");

    let apply = module(&ns, r#"{"role": "web", "backend": "nftables"}"#);
    assert_eq!(apply["changed"], true, "{apply}");
    assert!(table(&ns).contains("tcp dport 443"), "{}", table(&ns));
    assert!(!rules(&ns).contains("FWDSL"), "iptables was not to be used");
    let again = module(
        &ns,
        r#"{"role": "web", "backend": "nftables", "_ansible_diff": true}"#,
    );
    assert_eq!(again["changed"], false, "{again}");
    assert_eq!(again["diff"]["before"], again["diff"]["after"], "{again}");

    let absent = module(&ns, r#"{"state": "absent", "backend": "nftables"}"#);
    assert_eq!(absent["changed"], true, "{absent}");
    assert!(table(&ns).is_empty(), "{}", table(&ns));
}

#[test]
fn a_revert_window_is_confirmed_or_reverts_by_itself() {
    if !root() {
        return;
    }
    let ns = Netns::create("fwdsl-module-confirm").unwrap();
    let web = module(&ns, r#"{"role": "web", "confirm_timeout": "30"}"#);
    assert_eq!(web["changed"], true, "{web}");
    assert!(
        web["msg"].as_str().unwrap().contains("unless confirmed"),
        "{web}"
    );
    let confirm = module(&ns, r#"{"confirm": true}"#);
    assert_eq!(confirm["changed"], true, "{confirm}");
    let nothing = module(&ns, r#"{"confirm": true}"#);
    assert_eq!(nothing["changed"], false, "{nothing}");

    // Not confirmed: the module returns at once, the host puts `web` back by itself.
    let start = Instant::now();
    let bastion = module(&ns, r#"{"role": "bastion", "confirm_timeout": 5}"#);
    assert_eq!(bastion["changed"], true, "{bastion}");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "the module waited out the window"
    );
    assert!(!rules(&ns).contains("--dport 443"));
    while !rules(&ns).contains("--dport 443") {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no revert: {}",
            rules(&ns)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let late = module(&ns, r#"{"confirm": true}"#);
    assert_eq!(late["failed"], true, "{late}");
    assert!(late["msg"].as_str().unwrap().contains("too late"), "{late}");
    let again = module(&ns, r#"{"role": "web"}"#);
    assert_eq!(
        again["changed"], false,
        "the revert restored web exactly: {again}"
    );
}

/// The files fwdsl keeps for the namespace `ns` under its state directory (its lock aside).
fn state_files(ns: &Netns) -> Vec<String> {
    let prefix = format!("{}.", ns.state_prefix().unwrap());
    std::fs::read_dir("/run/fwdsl")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(&prefix) && !n.ends_with(".lock"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn two_rollouts_keep_to_their_own_watchdogs() {
    if !root() {
        return;
    }
    let a = Netns::create("fwdsl-module-a").unwrap();
    let b = Netns::create("fwdsl-module-b").unwrap();
    for ns in [&a, &b] {
        assert_eq!(module(ns, r#"{"role": "web"}"#)["changed"], true);
    }
    let start = Instant::now();
    assert_eq!(
        module(&a, r#"{"role": "bastion", "confirm_timeout": 60}"#)["changed"],
        true
    );
    assert_eq!(
        module(&b, r#"{"role": "bastion", "confirm_timeout": 4}"#)["changed"],
        true
    );
    // Confirming A cancels A's watchdog only: B still reverts when its window ends.
    assert_eq!(module(&a, r#"{"confirm": true}"#)["changed"], true);
    assert!(state_files(&a).is_empty(), "{:?}", state_files(&a));
    while !rules(&b).contains("--dport 443") {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "B did not revert"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!rules(&a).contains("--dport 443"), "A reverted too");
    // What B's watchdog leaves says it reverted, until the next operation.
    assert_eq!(module(&b, r#"{"state": "absent"}"#)["changed"], true);
    assert!(state_files(&b).is_empty(), "{:?}", state_files(&b));
}

#[test]
fn bad_arguments_and_a_bad_policy_file_change_nothing() {
    if !root() {
        return;
    }
    let ns = Netns::create("fwdsl-module-bad").unwrap();
    let before = rules(&ns);
    let file = std::env::temp_dir().join(format!("fwdsl-module-{}.policy", std::process::id()));
    std::fs::write(&file, "allow ssh;\ndrop all;\nallow tcp 80;\n").unwrap();
    let bad_file = module(&ns, &format!(r#"{{"policy_file": "{}"}}"#, file.display()));
    std::fs::remove_file(&file).unwrap();
    assert_eq!(bad_file["failed"], true, "{bad_file}");
    let msg = bad_file["msg"].as_str().unwrap();
    assert!(msg.contains(":3:1: error:"), "{msg}");
    let missing = module(&ns, r#"{"policy_file": "/nonexistent/fwdsl.policy"}"#);
    assert_eq!(missing["failed"], true, "{missing}");
    assert_eq!(rules(&ns), before);
}

/// Runs the module on `args_path` outside any namespace, at most 20 s; its reply.
fn reply_within_bound(args_path: &std::path::Path) -> (Value, String) {
    let mut child = provision()
        .arg(args_path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the module did not answer within 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let reply: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (reply, stdout)
}

fn fifo(path: &std::path::Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) on a NUL-terminated path in this test's own directory.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// The module trusts none of its paths: a FIFO or a device as the arguments file or the
/// policy file gets a reply at once (not a hang, not memory filled); a policy, include
/// or list file pointing at a secret has no line of it repeated; a huge value is not
/// echoed back. Nothing here reaches a firewall: every case is refused before.
#[test]
fn the_module_trusts_none_of_its_paths() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("shadow");
    std::fs::write(
        &secret,
        "root:$6$SECRETHASH$abc:19000:0:99999:7:::\nadmin:$6$OTHERHASH:19000::::::\n",
    )
    .unwrap();
    let args_fifo = dir.path().join("args.fifo");
    fifo(&args_fifo);
    let (reply, _) = reply_within_bound(&args_fifo);
    assert_eq!(reply["failed"], true, "{reply}");
    let policy_fifo = dir.path().join("policy.fifo");
    fifo(&policy_fifo);
    std::fs::write(
        dir.path().join("includes.fw"),
        "include \"shadow\";\nallow ssh;\ndrop all;\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("lists.fw"),
        "allow ssh;\ndrop src [file \"shadow\"];\ndrop all;\n",
    )
    .unwrap();
    for policy in [
        policy_fifo.clone(),
        "/dev/zero".into(),
        "/dev/urandom".into(),
        secret.clone(),
        dir.path().join("includes.fw"),
        dir.path().join("lists.fw"),
    ] {
        let args = dir.path().join("args.json");
        std::fs::write(
            &args,
            format!(r#"{{"policy_file": "{}"}}"#, policy.display()),
        )
        .unwrap();
        let (reply, raw) = reply_within_bound(&args);
        assert_eq!(reply["failed"], true, "{}: {reply}", policy.display());
        for leaked in ["SECRETHASH", "OTHERHASH", "root:", "admin:"] {
            assert!(
                !raw.contains(leaked),
                "{}: the reply repeats the file: {raw}",
                policy.display()
            );
        }
    }
    // A value far longer than any role name: refused, and not echoed back whole.
    let args = dir.path().join("args.json");
    std::fs::write(&args, format!(r#"{{"role": "{}"}}"#, "x".repeat(200_000))).unwrap();
    let (reply, raw) = reply_within_bound(&args);
    assert_eq!(reply["failed"], true, "{reply}");
    assert!(raw.len() < 1000, "{} bytes of reply", raw.len());
    // An arguments file larger than any Ansible writes: refused unread.
    std::fs::write(&args, format!(r#"{{"role": "{}"}}"#, "x".repeat(2 << 20))).unwrap();
    let (reply, raw) = reply_within_bound(&args);
    assert_eq!(reply["failed"], true, "{reply}");
    assert!(raw.len() < 1000, "{} bytes of reply", raw.len());
}

/// `ansible-doc` shows the module from its documentation file beside the binary.
#[test]
fn ansible_doc_shows_the_module() {
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/venv/bin/ansible-doc");
    if !venv.exists() {
        tests::skip("it needs .ci/venv (ansible-core): run .ci/run");
        return;
    }
    let library = tempfile::tempdir().unwrap();
    let doc =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ansible/library/provision.yml");
    std::fs::copy(&doc, library.path().join("provision.yml")).unwrap();
    std::os::unix::fs::symlink(
        common::provision().get_program(),
        library.path().join("provision"),
    )
    .unwrap();
    let out = std::process::Command::new(&venv)
        .arg("-M")
        .arg(library.path())
        .arg("provision")
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for word in [
        "confirm_timeout",
        "policy_file",
        "become: true",
        "RETURN VALUES",
        "exposure",
    ] {
        assert!(text.contains(word), "{word}: {text}");
    }
}
