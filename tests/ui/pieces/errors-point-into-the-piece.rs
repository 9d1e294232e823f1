fwdsl::rules! {
    web {
        allow http;
        allow tcp 0;
    }
}

fn main() {
    // The piece's own error is reported in the piece.
    let _ = fwdsl::firewall! { allow ssh; use web; drop all; };
    // Shadowing across the piece and the policy: the piece's SSH rule for 10/8 decides
    // every packet this later rule matches.
    let _ = fwdsl::firewall! { use tests::base; drop tcp 22 src 10.1.0.0/16; drop all; };
}
