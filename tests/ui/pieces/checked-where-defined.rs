// A piece is checked where it is defined, whether a policy uses it yet or not.
fwdsl::rules! {
    pub broken {
        allow tcp 99999;
        allow htps;
    }
}

fn main() {}
