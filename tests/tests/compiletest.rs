//! The `firewall!` macro's diagnostics, case by case: every check fails at the span of
//! the rule at fault, with the message in the `.stderr` beside each case.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/validity/*.rs");
    t.compile_fail("ui/ordering/*.rs");
    t.compile_fail("ui/shadowing/*.rs");
    t.compile_fail("ui/lockout/*.rs");
    t.compile_fail("ui/warnings/*.rs");
    t.compile_fail("ui/directions/*.rs");
    t.compile_fail("ui/matches/*.rs");
    t.compile_fail("ui/names/*.rs");
    t.compile_fail("ui/pieces/*.rs");
    t.compile_fail("ui/assertions/*.rs");
    t.compile_fail("ui/nat/*.rs");
    t.pass("ui/pass/*.rs");
}
