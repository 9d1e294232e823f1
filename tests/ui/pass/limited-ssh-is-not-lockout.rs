// A rate-limited SSH rule accepts the operator's connections (they count against the
// limit), and does not hide the rule after it, which takes what is over the limit.
fn main() {
    let _ = fwdsl::firewall! {
        allow established;
        allow ssh limit;
        log tcp 22;
        reject tcp 22;
        drop all;
    };
}
