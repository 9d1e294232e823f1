// Inputs that once panicked the runtime's parser (found by fuzzing): the macro reports
// them at the end of the statement, as errors.
fn main() {
    let _ = fwdsl::firewall! { allow proto };
    let _ = fwdsl::firewall! { allow ssh; drop src [ # ]; drop all; };
}
