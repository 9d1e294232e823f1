#![deny(deprecated)]

fn main() {
    // The design card's example: the host's own DNS lookups and downloads get no answer.
    let _ = fwdsl::firewall! { allow tcp 22; allow tcp 80; allow in lo; drop all; };
    // An `out` policy that lets nothing out means it: no warning.
    let _ = fwdsl::firewall! { ssh none; allow tcp 80; drop all; drop out all; };
}
