//! The exposure report's verdicts without a kernel: given sockets, each lands in the
//! group the policy's exact verdicts put it in.

use fwdsl::{Exposure, Policy, Socket, Transport};

fn socket(transport: Transport, address: &str, port: u16) -> Socket {
    Socket {
        transport,
        address: address.parse().unwrap(),
        port,
        process: Some("test".into()),
    }
}

#[test]
fn sockets_are_grouped_by_what_the_policy_lets_reach_them() {
    let policy = Policy::parse(
        "ssh 22 from 10.0.0.0/8;\nallow in lo;\nallow tcp 22 src 10.0.0.0/8;\nallow tcp 443;\nallow tcp 8000-8010;\nallow tcp 80 src [10.1.0.0/16, 198.51.100.0/24];\ndrop all;\n",
    )
    .unwrap();
    let report = Exposure::of(
        &policy,
        vec![
            socket(Transport::Tcp, "0.0.0.0", 22),
            socket(Transport::Tcp, "0.0.0.0", 443),
            socket(Transport::Tcp, "192.0.2.1", 80),
            socket(Transport::Udp, "0.0.0.0", 53),
            socket(Transport::Tcp, "127.0.0.1", 6379),
            socket(Transport::Tcp, "::1", 6380),
        ],
    );
    let ports = |group: &[fwdsl::Exposed]| group.iter().map(|e| e.socket.port).collect::<Vec<_>>();
    // 80 is open to 198.51.100.0/24, outside the operator network: the world.
    assert_eq!(ports(&report.world), [443, 80], "{report}");
    assert_eq!(
        report.world[1].world.as_ref().unwrap().src.to_string(),
        "198.51.100.0"
    );
    assert_eq!(ports(&report.operator_only), [22], "{report}");
    assert_eq!(ports(&report.dropped), [53], "{report}");
    assert_eq!(
        report.dropped[0].dropped_by.as_ref().unwrap().text,
        "drop all"
    );
    assert_eq!(ports(&report.loopback_only), [6379, 6380]);
    assert!(report.loopback_only.iter().all(|e| e.loopback));
    // Nothing from outside reaches a socket bound to loopback, whatever the rules say.
    assert!(report
        .loopback_only
        .iter()
        .all(|e| e.world.is_none() && e.operator == Some(false) && e.dropped_by.is_none()));
    assert!(
        report
            .to_string()
            .contains("world: closed, operator: closed, loopback: open"),
        "{report}"
    );
    let unused: Vec<&str> = report.unused.iter().map(|u| u.rule.text.as_ref()).collect();
    assert_eq!(unused, ["allow tcp 8000-8010"]);
}
