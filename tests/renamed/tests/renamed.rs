//! `fw = { package = "fwdsl" }`: `fw::firewall!` expands to paths under `fw`.

#[test]
fn the_macro_follows_the_name_the_dependency_was_given() {
    let policy = renamed::policy();
    let d = policy.decide(&fw::Packet::tcp([198, 51, 100, 7], 443));
    assert_eq!((d.action(), d.index), (fw::Action::Allow, 1));
}
