#![deny(deprecated)]
// `allow forward tcp 8080;` matches the port the client connected to, which the
// connection's replies carry too (conntrack's original destination port): nothing
// it lets start loses its answers, so `drop forward all` is not warned about.
use fwdsl::{Action, Packet};

fn main() {
    let policy = fwdsl::firewall! {
        allow ssh;
        allow established; drop all;
        allow forward tcp 8080;
        allow forward in docker0 via eth0 tcp 443;
        allow forward in eth0 via docker0 established;
        drop forward all;
    };
    let reply = Packet::tcp([172, 17, 0, 2], 8080).sport(80).dst([203, 0, 113, 9]).established().forwarded();
    assert_eq!(policy.decide(&reply).action(), Action::Allow);
}
