//! `fwdsl check`: every problem of each policy file, as the macro reports them, in
//! rustc's layout or as one JSON object a line (for CI annotations and editors).

use crate::args::Format;
use crate::Out;
use fwdsl::{Policy, Problem, Problems, Severity};
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;

/// The problems of one file; a file that cannot be read at all is one problem of it.
fn problems(file: &Path) -> Vec<Problem> {
    match Policy::problems_of_file(file) {
        Ok(problems) => problems,
        Err(fwdsl::Error::Policy(Problems(problems))) => problems,
        Err(e) => vec![Problem {
            severity: Severity::Error,
            file: Some(file.to_path_buf()),
            line: None,
            column: None,
            source_line: None,
            message: e.to_string(),
            help: None,
        }],
    }
}

fn as_json(p: &Problem, file: &Path) -> serde_json::Value {
    json!({
        "file": p.file.as_deref().unwrap_or(file).display().to_string(),
        "line": p.line,
        "column": p.column,
        "severity": match p.severity { Severity::Error => "error", Severity::Warning => "warning" },
        "message": p.message,
        "help": p.help,
    })
}

pub fn run(files: &[impl AsRef<Path>], deny_warnings: bool, format: Format, out: &Out) -> ExitCode {
    let (mut errors, mut warnings) = (0, 0);
    for file in files {
        let file = file.as_ref();
        let found = problems(file);
        for p in &found {
            match p.severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
            }
        }
        match format {
            Format::Json => {
                for p in &found {
                    println!("{}", as_json(p, file));
                }
            }
            Format::Human if found.is_empty() => out.say(format_args!("{}: ok", file.display())),
            Format::Human => {
                let shown = Problems(found)
                    .in_file(&file.display().to_string())
                    .to_string();
                println!("{shown}\n");
            }
        }
    }
    if format == Format::Human && (errors > 0 || warnings > 0) {
        out.say(format_args!(
            "{errors} error{}, {warnings} warning{} in {} file{}",
            plural(errors),
            plural(warnings),
            files.len(),
            plural(files.len())
        ));
    }
    match errors > 0 || deny_warnings && warnings > 0 {
        true => ExitCode::FAILURE,
        false => ExitCode::SUCCESS,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
