// A piece from another crate of the workspace (`tests::base`), imported at module level
// and used inside the policy, checked with it as one policy.
use tests::base;

fn main() {
    let web = fwdsl::firewall! { use base; allow https; drop all; };
    assert_eq!(web.rules().len(), 4);
    // Or named by its path inside the policy.
    let db = fwdsl::firewall! { use tests::base; allow postgresql src 10.2.0.0/16; drop all; };
    assert_eq!(db.rules().len(), 4);
}
