// A piece defined in a module is used through `#[macro_use]` on the module, declared
// before the policies that use it (a piece is a `macro_rules!`; `use fleet::base;` does
// not find it). A `pub` piece is also exported at the crate's root, for other crates.
#[macro_use]
mod fleet {
    fwdsl::rules! {
        web { allow https; }
    }
}

mod hosts {
    pub fn web() -> fwdsl::Policy {
        fwdsl::firewall! { allow established; allow ssh; use web; drop all; }
    }
}

fn main() {
    assert_eq!(hosts::web().rules().len(), 4);
}
