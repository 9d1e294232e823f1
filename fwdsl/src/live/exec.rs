//! Running the firewall's programs (iptables-restore, iptables -S, ipset, …) with a
//! bound on how long each may take: a listing that stalls under foreign churn, or a
//! program that hangs, ends as a typed error instead of hanging the apply.

use crate::error::{Error, FailedCommand};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Runs `program` with `args`, feeding it `input`, and waits at most `timeout`. The
/// output is returned whatever the exit status; a program that cannot be started is
/// [`Error::ProgramMissing`], one that runs too long is killed (with any children it
/// started) and reported as [`Error::Timeout`].
pub(crate) fn run(
    program: &str,
    args: &[&str],
    input: Option<&[u8]>,
    timeout: Duration,
) -> Result<Output, Error> {
    let missing = |e: std::io::Error| Error::missing(program, e);
    let mut command = Command::new(program);
    if let Some(fd) = super::lock::handed_here() {
        // SAFETY: fcntl(2) only, between fork and exec, on the child's copy of the
        // operation's lock: the child inherits it, the parent's stays close-on-exec.
        unsafe {
            command.pre_exec(move || match libc::fcntl(fd, libc::F_SETFD, 0) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            });
        }
    }
    let mut child = command
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that a timeout ends whatever it started too.
        .process_group(0)
        .spawn()
        .map_err(missing)?;
    let pid = child.id();
    let stdin = child.stdin.take();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        if let (Some(mut stdin), Some(input)) = (stdin, input) {
            // A writer of its own: a program that answers while it reads must not
            // block on a full output pipe while we block on its input.
            scope.spawn(move || {
                let _ = stdin.write_all(input);
            });
        }
        scope.spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        match rx.recv_timeout(timeout) {
            Ok(output) => output.map_err(missing),
            Err(_) => {
                // SAFETY: kill(2) on the process group of a child we started and have
                // not reaped yet (its waiter has not returned), so the id is still ours.
                unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
                let _ = rx.recv();
                Err(Error::Timeout {
                    command: command_line(program, args),
                    waited: timeout,
                })
            }
        }
    })
}

/// Like [`run`], but a non-zero exit status is an [`Error::Iptables`] carrying the
/// program's exit code and message.
pub(crate) fn run_ok(
    program: &str,
    args: &[&str],
    input: Option<&[u8]>,
    timeout: Duration,
) -> Result<Output, Error> {
    let output = run(program, args, input, timeout)?;
    if output.status.success() {
        return Ok(output);
    }
    Err(Error::Iptables(Box::new(FailedCommand {
        command: command_line(program, args),
        rule: None,
        code: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
    })))
}

pub(crate) fn command_line(program: &str, args: &[&str]) -> String {
    std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_program_that_hangs_is_ended_within_the_bound() {
        let start = Instant::now();
        let err = run("sh", &["-c", "sleep 30"], None, Duration::from_millis(200)).unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn input_output_and_exit_status_come_through() {
        let out = run_ok("cat", &[], Some(b"hello"), Duration::from_secs(5)).unwrap();
        assert_eq!(out.stdout, b"hello");
        let err = run_ok(
            "sh",
            &["-c", "echo no >&2; exit 3"],
            None,
            Duration::from_secs(5),
        )
        .unwrap_err();
        assert!(
            matches!(&err, Error::Iptables(f) if f.code == Some(3) && f.stderr == "no"),
            "{err}"
        );
        assert!(matches!(
            run("/nonexistent/fwdsl", &[], None, Duration::from_secs(1)),
            Err(Error::ProgramMissing { .. })
        ));
    }
}
