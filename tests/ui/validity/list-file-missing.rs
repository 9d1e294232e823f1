// A list file that is not there is an error at its path.
fn main() {
    let _ = fwdsl::firewall! {
        allow ssh;
        drop src [file "no-such-list.txt"];
        drop all;
    };
}
